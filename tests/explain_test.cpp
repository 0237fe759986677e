// Pooling coverage and what `minicnn explain` says of it: padding, overhang, gaps, overlap, the picture.
#include <gtest/gtest.h>

#include <algorithm>

#include <minicnn/check.h>
#include <minicnn/npy.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_coverage.h>
#include "test_util.h"

namespace minicnn {
namespace {

PoolCoverage coverage(const Shape& x, const Pool2dArgs& a) { return pool2d_coverage(pool2d_geometry("MaxPool2d", x, a)); }

Pool2dArgs args(int64_t k, int64_t s, int64_t p, int64_t d = 1, bool ceil_mode = false) {
  return {IntPair(k), IntPair(s), IntPair(p), IntPair(d), ceil_mode};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

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

// 7x7, kernel 3, stride 3, dilation 2, ceil_mode, no padding: window 1 taps rows 3, 5, 7. Row 7 lies past
// the input, but there is no padding: it is ceil_mode's overhang. The windows' taps interleave (0, 2, 4
// and 3, 5, 7), so no pixel is read twice although each window spans 5 rows and the stride is 3.
TEST(PoolCoverage, TellsCeilModeOverhangFromPadding) {
  const PoolCoverage c = coverage({1, 1, 7, 7}, args(3, 3, 0, 2, true));
  EXPECT_EQ(c.rows.place(7), TapPlace::Overhang);
  EXPECT_EQ(c.windows_touching_padding(), 0);
  EXPECT_EQ(c.windows_overhanging(), 3);
  EXPECT_EQ(c.overlapped_pixels(), 0);
  // 6x6, kernel 3, stride 2, padding 1, ceil_mode: the last window taps rows 5, 6, 7; row 6 is padding and
  // row 7 overhang. Windows touching padding: 16 - 2*2; overhanging: 16 - 3*3, each of them also padding.
  const PoolCoverage p = coverage({1, 1, 6, 6}, args(3, 2, 1, 1, true));
  EXPECT_EQ(p.rows.place(-1), TapPlace::Padding);
  EXPECT_EQ(p.rows.place(6), TapPlace::Padding);
  EXPECT_EQ(p.rows.place(7), TapPlace::Overhang);
  EXPECT_EQ(p.windows_touching_padding(), 12);
  EXPECT_EQ(p.windows_overhanging(), 7);
  EXPECT_EQ(p.windows_touching_padding_and_overhanging(), 7);
}

// Every count checked against a walk over each window's 2-D taps, where a tap is overhang when either
// coordinate lies past the padded input and padding when it is not overhang but lies outside the input.
TEST(PoolCoverage, CountsAgreeWithAWalkOverEveryTap) {
  int checked = 0;
  for (int64_t H : {5, 6, 7, 8}) {
    for (int64_t k : {1, 2, 3}) {
      for (int64_t s : {1, 2, 3}) {
        for (int64_t p : {0, 1}) {
          for (int64_t d : {1, 2, 3}) {
            for (bool ceil_mode : {false, true}) {
              Pool2dArgs a{IntPair(k, k + 1), IntPair(s, s + 1), IntPair(p, 1 - p), IntPair(d, 1), ceil_mode};
              Pool2dGeometry g{};
              try {
                g = pool2d_geometry("MaxPool2d", {1, 1, H, H + 1}, a);
              } catch (const Error&) {
                continue;
              }
              const PoolCoverage c = pool2d_coverage(g);
              std::vector<int64_t> reads(static_cast<size_t>(g.H * g.W), 0);
              int64_t padding = 0, overhang = 0, both = 0;
              for (int64_t oh = 0; oh < g.OH; ++oh) {
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                  bool pad = false, over = false;
                  for (int64_t kh = 0; kh < g.KH; ++kh) {
                    for (int64_t kw = 0; kw < g.KW; ++kw) {
                      const int64_t h = oh * g.SH - g.PH + kh * g.DH, w = ow * g.SW - g.PW + kw * g.DW;
                      const bool inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
                      const bool past = h >= g.H + g.PH || w >= g.W + g.PW;
                      if (inside) ++reads[static_cast<size_t>(h * g.W + w)];
                      over |= past;
                      pad |= !inside && !past;
                    }
                  }
                  padding += pad;
                  overhang += over;
                  both += pad && over;
                }
              }
              const std::string where = ::testing::PrintToString(a.kernel_size) + " H=" + std::to_string(H) +
                                        " s=" + std::to_string(s) + " p=" + std::to_string(p) +
                                        " d=" + std::to_string(d) + " ceil=" + std::to_string(ceil_mode);
              EXPECT_EQ(c.windows_touching_padding(), padding) << where;
              EXPECT_EQ(c.windows_overhanging(), overhang) << where;
              EXPECT_EQ(c.windows_touching_padding_and_overhanging(), both) << where;
              EXPECT_EQ(c.uncovered_pixels(), std::count(reads.begin(), reads.end(), 0)) << where;
              EXPECT_EQ(c.overlapped_pixels(),
                        std::count_if(reads.begin(), reads.end(), [](int64_t n) { return n >= 2; }))
                  << where;
              EXPECT_EQ(c.min_overlap(), *std::min_element(reads.begin(), reads.end())) << where;
              EXPECT_EQ(c.max_overlap(), *std::max_element(reads.begin(), reads.end())) << where;
              ++checked;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 300);
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

// The case: the windows span 5 pixels with stride 3, but their dilated taps interleave, so no pixel
// is read twice (the map shows 0 and 1 only); the rows past the input are ceil_mode's overhang, not padding.
TEST(Cli, ExplainTakesOverlapFromTheCoverageCountsAndTellsOverhangFromPadding) {
  const auto r =
      testing::run_cli("explain --input-shape 1,1,7,7 --kernel-size 3 --stride 3 --dilation 2 --ceil-mode");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "windows do not overlap: no input pixel is read by more than one window"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "windows leave gaps: 24 of 49 input pixels are read by no window\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "window 1: rows 3, 5, 7 (row 7 is overhang, past the input edge)\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "windows touching padding: 0 of 4 per channel\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "windows overhanging past the input edge: 3 of 4 per channel")) << r.output;
  EXPECT_TRUE(contains(r.output, "input pixels read by more than one window: 0 of 49 per channel\n"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "windows overlap")) << r.output;
  EXPECT_FALSE(contains(r.output, "is padding")) << r.output;
  EXPECT_FALSE(contains(r.output, "windows touching padding: 3 of 4")) << r.output;
}

// The tutorial's case: 252 of the 256 pixels (all but the four corners) are read by 2 or 4 windows.
TEST(Cli, ExplainCountsThePixelsOverlappingWindowsShare) {
  const auto r = testing::run_cli("explain --input-shape 1,3,16,16 --kernel-size 4 --stride 2 --padding 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(
      r.output, "windows overlap: 252 of 256 input pixels are read by more than one window (up to 4)\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "input pixels read by more than one window: 252 of 256 per channel\n"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "stride 2x2 is smaller than the window")) << r.output;
  EXPECT_FALSE(contains(r.output, "overhang")) << r.output;
}

TEST(Cli, ExplainCountsThePixelsGapsLeaveOut) {
  const auto r = testing::run_cli("explain --input-shape 1,1,8,8 --kernel-size 2 --stride 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "windows do not overlap: no input pixel is read by more than one window\n"))
      << r.output;
  EXPECT_TRUE(
      contains(r.output,
               "windows leave gaps: 28 of 64 input pixels are read by no window (the stride is larger than "
               "the window)\n"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "windows leave gaps: stride 3x3")) << r.output;
}

// With padding 1 and ceil_mode the last window reads row 5, padding row 6 and overhang row 7: it touches
// both, and the counts keep them apart.
TEST(Cli, ExplainTellsPaddingFromOverhangInOneWindow) {
  const auto r =
      testing::run_cli("explain --input-shape 1,1,6,6 --kernel-size 3 --stride 2 --padding 1 --ceil-mode");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(
      contains(r.output, "window 3: rows 5..7 (row 6 is padding; row 7 is overhang, past the padding)\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "windows touching padding: 12 of 16 per channel\n")) << r.output;
  EXPECT_TRUE(contains(
      r.output, "windows overhanging past the padding: 7 of 16 per channel (all 7 also touch padding)\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "windows overlap: 27 of 36 input pixels are read by more than one window"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "rows 6, 7 are padding")) << r.output;
  // Average pooling counts padding in its divisor (count_include_pad) but not the overhang.
  const auto avg = testing::run_cli(
      "explain --mode avg --input-shape 1,1,6,6 --kernel-size 3 --stride 2 --padding 1 --ceil-mode");
  ASSERT_EQ(avg.exit_code, 0) << avg.output;
  EXPECT_TRUE(contains(avg.output,
                       "overhang past the padding (ceil_mode) counts as nothing: unlike padding it is "
                       "not in the divisor"))
      << avg.output;
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

// Every colour of the picture is named: 2x2 windows pick each pixel at most once (one red); 3x3/s2 windows
// on a ramp with a peak that four windows share pick pixels once or four times (two reds).
TEST(Cli, ExplainNamesTheColoursOfItsPicture) {
  testing::TempDir tmp("explain_legend");
  const auto once =
      testing::run_cli("explain --input-shape 1,1,8,8 --kernel-size 2 --image " + (tmp / "a.png"));
  ASSERT_EQ(once.exit_code, 0) << once.output;
  EXPECT_TRUE(contains(once.output, "  each input pixel is a 32x32 square\n")) << once.output;
  EXPECT_TRUE(contains(once.output, "  red (255, 30, 30): picked by max pooling, each by 1 window\n"))
      << once.output;
  EXPECT_TRUE(
      contains(once.output,
               "  grey: not picked, lighter for larger values: (40, 40, 40) for the smallest input value "))
      << once.output;
  const auto np = tmp / "x.npy";
  Tensor x = Tensor::empty({1, 1, 8, 8});
  for (int64_t i = 0; i < 64; ++i) x.data()[i] = static_cast<float>(i) / 10;  // each window's last pixel wins
  x.data()[2 * 8 + 2] = 100;  // except in the four windows that share pixel (2, 2)
  save_npy(np, x);
  const auto twice = testing::run_cli("explain --input-shape 1,1,8,8 --kernel-size 3 --stride 2 --input " +
                                      np + " --image " + (tmp / "b.png"));
  ASSERT_EQ(twice.exit_code, 0) << twice.output;
  EXPECT_TRUE(
      contains(twice.output,
               "  red: picked by max pooling, brighter when picked by more windows: (180, 30, 30) for "
               "1 window, (255, 30, 30) for 4 windows\n"))
      << twice.output;
  EXPECT_TRUE(contains(twice.output,
                       "(40, 40, 40) for the smallest input value 0, (200, 200, 200) for the largest 100\n"))
      << twice.output;
}

TEST(Cli, ExplainCountsInTheSingularForOne) {
  const auto r = testing::run_cli("explain --input-shape 1,1,8,8 --kernel-size 3 --stride 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "  row no window reads: 7\n")) << r.output;
  EXPECT_FALSE(contains(r.output, "rows no window reads: 7")) << r.output;
  const auto one =
      testing::run_cli("explain --input-shape 1,1,38,38 --kernel-size 1,2 --stride 2 --max-lines 18");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(contains(one.output, "(kernel 1x2, dilation 1x1)")) << one.output;
  EXPECT_TRUE(contains(one.output, "  ... 1 more window ...\n")) << one.output;
  EXPECT_FALSE(contains(one.output, "1 more windows")) << one.output;
  const auto pixel = testing::run_cli("explain --input-shape 1,1,3,3 --kernel-size 1");
  EXPECT_TRUE(contains(pixel.output, "effective receptive field of one output: 1x1 input pixel (kernel"))
      << pixel.output;
  const auto gap = testing::run_cli("explain --input-shape 1,1,3,1 --kernel-size 1 --stride 2,1");
  EXPECT_TRUE(contains(gap.output, "windows leave gaps: 1 of 3 input pixels is read by no window"))
      << gap.output;
  const auto shared = testing::run_cli("explain --input-shape 1,1,3,1 --kernel-size 2,1 --stride 1");
  EXPECT_TRUE(contains(shared.output,
                       "windows overlap: 1 of 3 input pixels is read by more than one window (up to 2)"))
      << shared.output;
}

}  // namespace
}  // namespace minicnn
