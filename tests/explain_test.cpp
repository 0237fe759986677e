// Pooling coverage (what `minicnn explain` prints): windows touching padding, uncovered pixels, overlap.
#include <gtest/gtest.h>

#include "pool2d.h"
#include "pool2d_coverage.h"
#include "test_util.h"

namespace minicnn {
namespace {

PoolCoverage coverage(const Shape& x, const Pool2dArgs& a) { return pool2d_coverage(pool2d_geometry("MaxPool2d", x, a)); }

Pool2dArgs args(int64_t k, int64_t s, int64_t p, int64_t d = 1) { return {IntPair(k), IntPair(s), IntPair(p), IntPair(d), false}; }

// The tutorial's quiz: 16x16, kernel 4, stride 2, padding 1 gives 8x8 windows. Along one axis window o
// reads rows 2o-1 .. 2o+2: window 0 reads row -1 and window 7 reads row 16, both padding; windows 1..6
// stay inside. A 2-D window stays inside only when its row and its column windows do: 6 x 6 = 36 of the
// 64 windows, so 64 - 36 = 28 touch the padding.
TEST(PoolCoverage, AnswersTheTutorialsQuiz) {
  const PoolCoverage c = coverage({1, 3, 16, 16}, args(4, 2, 1));
  EXPECT_EQ(c.windows(), 64);
  EXPECT_EQ(c.rows.windows_touching_padding, 2);
  EXPECT_EQ(c.windows_touching_padding(), 28);
  EXPECT_EQ(c.uncovered_pixels(), 0);
  EXPECT_EQ(c.max_overlap(), 4);
  EXPECT_EQ(c.count(0, 0), 1);
}

// Kernel 2 with stride 3 reads rows 0,1, 3,4, 6,7 of 8: rows 2 and 5 are never read, so 8*8 - 6*6 = 28
// pixels of 64 are not covered.
TEST(PoolCoverage, FindsPixelsNoWindowReads) {
  const PoolCoverage c = coverage({1, 1, 8, 8}, args(2, 3, 0));
  EXPECT_EQ(c.rows.outputs, 3);
  EXPECT_EQ(c.rows.count, std::vector<int32_t>({1, 1, 0, 1, 1, 0, 1, 1}));
  EXPECT_EQ(c.uncovered_pixels(), 28);
  EXPECT_EQ(c.windows_touching_padding(), 0);
}

TEST(PoolCoverage, DilationSkipsPixelsInsideTheWindow) {
  // Kernel 2, dilation 2, stride 4 on 8: taps 0,2 and 4,6; odd rows are never read.
  const PoolCoverage c = coverage({1, 1, 8, 8}, args(2, 4, 0, 2));
  EXPECT_EQ(c.rows.count, std::vector<int32_t>({1, 0, 1, 0, 1, 0, 1, 0}));
  EXPECT_EQ(c.uncovered_pixels(), 64 - 16);
}

TEST(Cli, ExplainPrintsTheFixedLinesForScripts) {
  const auto r = testing::run_cli("explain --input-shape 1,3,16,16 --kernel-size 4 --stride 2 --padding 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("output shape: [1, 3, 8, 8]\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("windows touching padding: 28 of 64 per channel\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("input pixels not covered: 0 of 256 per channel\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("window 0: rows -1..2 (row -1 is padding)"), std::string::npos) << r.output;
  const auto gaps = testing::run_cli("explain --input-shape 1,1,8,8 --kernel-size 2 --stride 3");
  EXPECT_NE(gaps.output.find("input pixels not covered: 28 of 64 per channel"), std::string::npos) << gaps.output;
  EXPECT_NE(gaps.output.find("rows no window reads: 2, 5"), std::string::npos) << gaps.output;
}

TEST(Cli, ExplainDrawsTheArgmaxPicks) {
  testing::TempDir tmp("explain_png");
  const auto r = testing::run_cli("explain --input-shape 1,1,8,8 --kernel-size 2 --image " + (tmp / "picks.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string png = testing::read_bytes(tmp / "picks.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const auto bad = testing::run_cli("explain --input-shape 1,1,2,2 --kernel-size 3");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("output size is too small"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace minicnn
