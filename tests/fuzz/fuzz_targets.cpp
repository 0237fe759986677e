// The fuzz targets' bodies: a result or a minicnn::Error is fine; a result that breaks its contract is
// a BrokenInvariant; anything else (a crash, a sanitizer report, a leak, a hang) is a bug in the library.
#include "fuzz_targets.h"

#include <cctype>
#include <cstring>
#include <string_view>

#include <minicnn/check.h>
#include <minicnn/cifar10.h>
#include <minicnn/image_folder.h>
#include <minicnn/image_io.h>
#include <minicnn/mnist.h>
#include <minicnn/npy.h>
#include <minicnn/registry.h>
#include <minicnn/runtime.h>
#include <minicnn/safetensors.h>
#include <minicnn/trainer.h>

namespace minicnn::fuzz {
namespace {

void expect(bool cond, const char* what) {
  if (!cond) throw BrokenInvariant(what);
}

std::string as_text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

void check_idx(const IdxArray& a, int rank) {
  expect(static_cast<int>(a.dims.size()) == rank, "parse_idx: rank differs from the one asked for");
  uint64_t count = 1;
  for (int64_t d : a.dims) count *= static_cast<uint64_t>(d);
  expect(a.data.size() == count, "parse_idx: data size differs from the product of the dims");
}

void parse_both_ranks(const uint8_t* data, size_t size) {
  for (int rank : {3, 1}) {
    try {
      check_idx(parse_idx(data, size, rank, "MNIST", "fuzz-idx"), rank);
    } catch (const Error&) {
    }
  }
}

// Models whose training step would need more memory, or more multiply-adds, than this are not run
// forward (parsing, shape inference and the summary still are): the fuzzer looks for bugs, not big models.
constexpr double kMaxForwardBytes = 32.0 * 1024 * 1024;
constexpr double kMaxForwardMacs = 2e7;

// Multiply-adds (or comparisons) of a forward pass for one image: each parameter is used once per output
// position, each windowed output looks at its whole window, every other output at one value.
double forward_macs(const Model& model, const std::vector<LayerSummary>& rows) {
  double macs = 0;
  for (const LayerSummary& r : rows) {
    const Shape& s = r.output_shape;
    const double positions = s.rank() == 4 ? static_cast<double>(s[2] * s[3]) : 1.0;
    double per_output = 1;
    if (const auto w = model.layer(static_cast<size_t>(r.index)).window())
      per_output = static_cast<double>(w->KH) * static_cast<double>(w->KW);
    macs += static_cast<double>(r.parameters) * positions + static_cast<double>(s.numel()) * per_output;
  }
  return macs;
}

// What a spec asks to allocate is the user's request, not a size a parser must bound (Conv2d(1, 100000,
// 100) is 4 GB), so the fuzzer keeps to specs a small machine can hold: at most 16 layers, whose sizes
// multiply to at most 2^22 weights in all (the numbers inside each layer's parentheses multiplied, those of
// stride=, padding= and dilation= aside), while pooling layers and those three options stay unbounded,
// for their arithmetic. Lazy layers take their sizes at build time: fuzz_main.cpp makes any block over
// 32 MiB fail, which the library reports as an Error.
bool modest_spec(const std::string& spec) {
  constexpr double kMaxWeights = 4194304.0;
  int layers = 0, depth = 0;
  bool pooling = false, skip = false;
  std::string word, name;
  double product = 1, total = 0;
  for (size_t i = 0; i <= spec.size(); ++i) {
    const char c = i < spec.size() ? spec[i] : ' ';
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      if (word.empty() && depth > 0 && !skip && std::isdigit(static_cast<unsigned char>(c))) {
        size_t end = i;
        while (end < spec.size() && std::isdigit(static_cast<unsigned char>(spec[end]))) ++end;
        product *= std::stod(spec.substr(i, std::min<size_t>(end - i, 300)));
        i = end - 1;
        continue;
      }
      word += c;
      continue;
    }
    if (!word.empty() && depth == 0) {
      ++layers;
      name = word;
    }
    if (depth > 0 && c == '=') skip = word == "stride" || word == "padding" || word == "dilation";
    if (depth == 1 && c == ',') skip = false;
    word.clear();
    if (c == '(') {
      if (depth++ == 0) {
        pooling = name.find("Pool") != std::string::npos;
        product = 1;
        skip = false;
      }
    } else if (c == ')' && depth > 0 && --depth == 0 && !pooling) {
      total += product;
    }
  }
  return layers <= 16 && total <= kMaxWeights;
}

// Builds `model` for (1, 28, 28) input, else for (3, 32, 32) (the data sets' shapes); false when neither
// fits.
bool build_for_a_dataset_shape(Model& model, Shape& input) {
  for (const Shape& chw : {Shape{1, 28, 28}, Shape{3, 32, 32}}) {
    try {
      model.build(chw, 0);
      input = chw;
      return true;
    } catch (const Error&) {
    }
  }
  return false;
}

}  // namespace

void idx(const uint8_t* data, size_t size) {
  parse_both_ranks(data, size);
}

void idx_gzip(const uint8_t* data, size_t size) {
  // A bound far below the reader's 2 GiB, so that "decompresses to more than" is reached too.
  constexpr uint64_t kBound = uint64_t{1} << 20;
  std::vector<uint8_t> raw;
  try {
    raw = gunzip_bounded(data, size, "MNIST", "fuzz-idx.gz", kBound);
  } catch (const Error&) {
    return;
  }
  expect(raw.size() <= kBound, "gunzip_bounded: output larger than its bound");
  parse_both_ranks(raw.data(), raw.size());
}

void cifar10(const uint8_t* data, size_t size) {
  try {
    const ImageDataset d = parse_cifar10_batch(data, size, "fuzz_batch.bin");
    expect(d.size() > 0 && static_cast<int64_t>(d.images.size()) == d.size() * d.image_bytes(),
           "parse_cifar10_batch: image bytes differ from count x 3x32x32");
    for (int32_t label : d.labels)
      expect(label >= 0 && label < 10, "parse_cifar10_batch: label outside 0..9");
  } catch (const Error&) {
  }
}

void image(const uint8_t* data, size_t size) {
  // The channel count asked for varies with the input, so every conversion of stb_image is reached.
  static constexpr int kChannels[] = {0, 1, 3};
  const int channels = kChannels[size % 3];
  try {
    const DecodedImage img = decode_image(data, size, "fuzz-image", channels);
    expect(img.width > 0 && img.height > 0 && img.width <= kMaxImageDimension &&
               img.height <= kMaxImageDimension,
           "decode_image: size outside 1..kMaxImageDimension");
    expect(img.channels >= 1 && img.channels <= 4 && (channels == 0 || img.channels == channels),
           "decode_image: unexpected channel count");
    expect(img.pixels.size() == static_cast<size_t>(img.width * img.height * img.channels),
           "decode_image: pixel bytes differ from width x height x channels");
    const std::vector<uint8_t> planar = to_planar(img, img.channels >= 3 ? 3 : 1);
    expect(planar.size() == static_cast<size_t>(img.width * img.height * (img.channels >= 3 ? 3 : 1)),
           "to_planar: wrong size");
  } catch (const Error&) {
  }
}

void npy(const uint8_t* data, size_t size) {
  Tensor t;
  try {
    t = parse_npy(data, size, "fuzz.npy");
  } catch (const Error&) {
    return;
  }
  // What save_npy writes must read back to the same shape and bytes.
  const std::string bytes = npy_bytes(t);
  const Tensor back =
      parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "fuzz-back.npy");
  expect(back.shape() == t.shape() && back.dtype() == t.dtype(), "npy_bytes: reads back with another shape");
  expect(std::memcmp(back.raw_data(), t.raw_data(), t.nbytes()) == 0, "npy_bytes: reads back other values");
  // The values reader accepts a subset of these files (integers within 2^24, float64 within float32's range),
  // and gives the same numbers as float32.
  Tensor values;
  try {
    values = parse_npy_values(data, size, "fuzz.npy");
  } catch (const Error&) {
    return;
  }
  expect(values.dtype() == DType::Float32 && values.shape() == t.shape(), "parse_npy_values: another shape");
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float want = t.dtype() == DType::Int32 ? static_cast<float>(t.data_i32()[i]) : t.data()[i];
    expect(std::memcmp(&want, values.data() + i, sizeof want) == 0, "parse_npy_values: another value");
  }
}

void safetensors(const uint8_t* data, size_t size) {
  try {
    const SafetensorsFile f = parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& [name, t] : f.tensors) {
      // (An empty name is a valid JSON key: save_safetensors refuses to write one, the reader takes it.)
      expect(f.find(name) != nullptr, "parse_safetensors: a tensor cannot be found by its name");
      expect(t.nbytes() <= size, "parse_safetensors: a tensor larger than the file");
    }
  } catch (const Error&) {
  }
}

void model_spec(const uint8_t* data, size_t size) {
  set_num_threads(1);
  const std::string spec = as_text(data, size);
  if (!modest_spec(spec)) return;
  try {
    Model model = parse_model(spec);
    Shape input;
    if (build_for_a_dataset_shape(model, input)) {
      const std::vector<LayerSummary> rows = model.summary_rows(input);
      (void)model.summary(input);
      // model_to_spec() must read back to a model of the same shapes.
      Model again = parse_model(model_to_spec(model));
      try {
        again.build(input, 0);
      } catch (const Error& e) {
        throw BrokenInvariant(std::string("model_to_spec: the spec does not build again: ") + e.what());
      }
      expect(again.summary_rows(input).back().output_shape == rows.back().output_shape,
             "model_to_spec: the spec reads back to another output shape");
      if (estimate_training_bytes(model, input, 2, OptimizerKind::SGD) <= kMaxForwardBytes &&
          forward_macs(model, rows) <= kMaxForwardMacs) {
        Tensor x = Tensor::empty(Shape{2, input[0], input[1], input[2]});
        for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>((i * 7919) % 23) - 11.0f;
        const Tensor y = model.forward(x, Mode::Train);  // Flatten(0) may fold the batch in: torch's rule
        model.backward(Tensor::full(y.shape(), 1.0f));
      }
    }
  } catch (const Error&) {
  }
  release_cached_memory();
}

void pool_variant(const uint8_t* data, size_t size) {
  const std::string name = as_text(data, size);
  PoolVariant v;
  try {
    v = parse_pool_variant(name);
  } catch (const Error&) {
    return;
  }
  // A variant the parser accepts is a layer the spec language accepts, in every preset with pooling.
  try {
    (void)parse_model(v.layer_spec());
    for (const Preset& p : presets()) (void)parse_model(apply_pool_variant(p.name, v));
  } catch (const Error& e) {
    throw BrokenInvariant(std::string("parse_pool_variant accepted '") + name +
                          "', but its layer is refused: " + e.what());
  }
  release_cached_memory();
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"idx", idx}, {"idx_gzip", idx_gzip},       {"cifar10", cifar10},       {"image", image},
      {"npy", npy}, {"safetensors", safetensors}, {"model_spec", model_spec}, {"pool_variant", pool_variant},
  };
  return all;
}

const Target& target(const std::string& name) {
  for (const Target& t : targets()) {
    if (name == t.name) return t;
  }
  throw std::invalid_argument("no fuzz target called '" + name + "'");
}

}  // namespace minicnn::fuzz
