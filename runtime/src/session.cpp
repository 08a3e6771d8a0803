//===- session.cpp - Run a compiled artifact ------------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Implements the CPU calling convention of docs/Artifact.md: every entry
// point is `void sym(void **args)`, args[0] points to the result block (the
// results' memref descriptors end to end) and args[1 + i] to the descriptor
// of argument i. A rank-r descriptor is 3 + 2r eight-byte words: allocated,
// aligned, offset, sizes[r], strides[r].
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/session.h"

#include "code_loader.h"
#include "file_util.h"
#include "weights.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

using namespace ds::runtime;
using namespace ds::runtime::detail;

namespace {
/// Where a symbol got its value, for messages.
struct Binding {
  int64_t value;
  std::string boundBy;
};
using Bindings = std::map<std::string, Binding>;

/// Checks dim `i` of `shape` (of the tensor described by `what`) against
/// `spec`, binding symbolic names in `bindings`.
Status checkDim(const TensorSpec &spec, const std::vector<int64_t> &shape,
                size_t i, const std::string &what, Bindings &bindings) {
  int64_t expected = spec.shape[i];
  if (expected >= 0) {
    if (shape[i] != expected)
      return makeError() << what << ": dim " << i << " is " << shape[i]
                         << ", expected " << expected;
    return Status::success();
  }
  std::string_view symbol = spec.dimName(i);
  if (symbol.empty())
    return Status::success();
  auto [it, inserted] =
      bindings.emplace(std::string(symbol), Binding{shape[i], what});
  if (!inserted && it->second.value != shape[i])
    return makeError() << what << ": dim " << i << " ('" << symbol << "') is "
                       << shape[i] << " but " << it->second.boundBy << " has '"
                       << symbol << "' = " << it->second.value;
  return Status::success();
}

/// Fills a memref descriptor for dense row-major data.
std::vector<int64_t> makeDescriptor(const void *data,
                                    const std::vector<int64_t> &shape) {
  size_t rank = shape.size();
  std::vector<int64_t> words(3 + 2 * rank);
  int64_t address = static_cast<int64_t>(reinterpret_cast<uintptr_t>(data));
  words[0] = words[1] = address;
  words[2] = 0;
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    words[3 + i] = shape[i];
    words[3 + rank + i] = stride;
    stride *= shape[i];
  }
  return words;
}

/// Copies a strided memref of `count` > 0 elements into dense `out`.
void copyStrided(uint8_t *out, const uint8_t *base, int64_t offset,
                 const std::vector<int64_t> &sizes, const int64_t *strides,
                 size_t elemSize, int64_t count) {
  size_t rank = sizes.size();
  if (rank == 0) {
    std::memcpy(out, base + offset * int64_t(elemSize), elemSize);
    return;
  }
  int64_t inner = sizes[rank - 1], innerStride = strides[rank - 1];
  std::vector<int64_t> index(rank, 0);
  for (int64_t row = 0, rows = count / inner; row < rows; ++row) {
    int64_t start = offset;
    for (size_t d = 0; d + 1 < rank; ++d)
      start += index[d] * strides[d];
    const uint8_t *source = base + start * int64_t(elemSize);
    if (innerStride == 1) {
      std::memcpy(out, source, size_t(inner) * elemSize);
    } else {
      for (int64_t j = 0; j < inner; ++j)
        std::memcpy(out + j * elemSize,
                    source + j * innerStride * int64_t(elemSize), elemSize);
    }
    out += size_t(inner) * elemSize;
    for (size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
  }
}
} // namespace

Status ds::runtime::checkInputs(const EntryPointSpec &entry,
                                const std::map<std::string, TensorView> &inputs,
                                std::map<std::string, int64_t> &bindings) {
  std::vector<const TensorSpec *> specs = entry.inputs();
  std::set<std::string> known;
  std::string expectedNames;
  for (const TensorSpec *spec : specs) {
    known.insert(spec->name);
    expectedNames += (expectedNames.empty() ? "'" : ", '") + spec->name + "'";
  }
  for (const auto &[name, view] : inputs)
    if (!known.count(name))
      return makeError() << "unknown input '" << name << "'; entry point '"
                         << entry.name << "' takes "
                         << (expectedNames.empty() ? "no inputs"
                                                   : expectedNames);
  Bindings bound;
  for (const TensorSpec *spec : specs) {
    std::string what = "input '" + spec->name + "'";
    std::string expectedType =
        dtypeName(spec->dtype) + formatShape(spec->shape, spec->dimNames);
    auto it = inputs.find(spec->name);
    if (it == inputs.end())
      return makeError() << "missing " << what << " (" << expectedType << ")";
    const TensorView &view = it->second;
    // .npy and numpy have no bf16: a u16 tensor carries bf16 bit patterns
    // (docs/Runtime.md), for every caller of the runtime alike.
    bool bf16Bits = spec->dtype == DType::BF16 && view.dtype == DType::U16;
    if (view.dtype != spec->dtype && !bf16Bits)
      return makeError() << what << ": expected dtype "
                         << dtypeName(spec->dtype) << ", got "
                         << dtypeName(view.dtype);
    if (view.shape.size() != spec->shape.size())
      return makeError() << what << ": expected rank " << spec->shape.size()
                         << " (" << expectedType << "), got rank "
                         << view.shape.size() << " " << formatShape(view.shape);
    Expected<int64_t> count = computeNumElements(view.shape);
    if (count.failed())
      return count.status().withPrefix(what);
    for (size_t i = 0; i < view.shape.size(); ++i)
      if (Status status = checkDim(*spec, view.shape, i, what, bound);
          status.failed())
        return status;
    uint64_t bytes = uint64_t(*count) * elementSize(view.dtype);
    if (view.sizeBytes != bytes)
      return makeError() << what << ": data is " << view.sizeBytes
                         << " bytes, expected " << bytes << " for "
                         << dtypeName(view.dtype) << formatShape(view.shape);
    if (bytes > 0 && !view.data)
      return makeError() << what << ": no data";
  }
  bindings.clear();
  for (const auto &[symbol, binding] : bound)
    bindings[symbol] = binding.value;
  return Status::success();
}

struct Session::Impl {
  Artifact artifact;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<SharedObject> code;
  std::map<std::string, EntryFunction, std::less<>> functions;

  Expected<std::vector<Tensor>>
  readResults(const EntryPointSpec &entry, const std::vector<int64_t> &block,
              const std::map<std::string, int64_t> &inputBindings,
              const std::set<const void *> &argumentPointers);
};

Session::Session(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Session::~Session() = default;

const Artifact &Session::artifact() const { return impl->artifact; }

Expected<std::unique_ptr<Session>>
Session::create(const std::string &artifactPath,
                const std::string &weightsPath) {
  Expected<Artifact> artifact = readArtifactFile(artifactPath);
  if (artifact.failed())
    return artifact.status();
  Expected<std::unique_ptr<Session>> session = createFromArtifact(
      std::move(*artifact), parentFolder(artifactPath), weightsPath);
  if (session.failed())
    return session.status().withPrefix(artifactPath);
  return session;
}

Expected<std::unique_ptr<Session>>
Session::createFromArtifact(Artifact artifact,
                            const std::string &artifactFolder,
                            const std::string &weightsPath) {
  if (artifact.formatMajor != kFormatMajor ||
      artifact.formatMinor > kFormatMinor)
    return makeError() << "artifact format version " << artifact.formatMajor
                       << "." << artifact.formatMinor << " is not supported";
  if (Status status = validateArtifact(artifact); status.failed())
    return status.withPrefix("invalid artifact");
  if (artifact.target == Target::Cuda)
    return makeError()
           << "cuda artifacts are not supported by this runtime build yet";
  std::string arch =
      artifact.targetTriple.substr(0, artifact.targetTriple.find('-'));
  if (!arch.empty() && arch != hostArchitecture())
    return makeError() << "artifact targets '" << artifact.targetTriple
                       << "' but this host is " << hostArchitecture();

  auto impl = std::make_unique<Impl>();
  Expected<std::unique_ptr<WeightStore>> weights =
      WeightStore::load(artifact, artifactFolder, weightsPath);
  if (weights.failed())
    return weights.status();
  impl->weights = std::move(*weights);
  if (!artifact.entryPoints.empty()) {
    if (artifact.code.empty())
      return makeError() << "artifact has entry points but no code";
    Expected<std::unique_ptr<SharedObject>> code =
        SharedObject::load(artifact.code);
    if (code.failed())
      return code.status();
    impl->code = std::move(*code);
  }
  for (const EntryPointSpec &entry : artifact.entryPoints) {
    Expected<EntryFunction> function = impl->code->lookup(entry.symbol);
    if (function.failed())
      return function.status().withPrefix("entry point '" + entry.name + "'");
    impl->functions.emplace(entry.name, *function);
  }
  impl->artifact = std::move(artifact);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Expected<std::vector<Tensor>>
Session::run(std::string_view entryName,
             const std::map<std::string, TensorView> &inputs) {
  const EntryPointSpec *entry = impl->artifact.findEntryPoint(entryName);
  if (!entry) {
    std::string names;
    for (const EntryPointSpec &candidate : impl->artifact.entryPoints)
      names += (names.empty() ? "'" : ", '") + candidate.name + "'";
    return makeError() << "unknown entry point '" << entryName
                       << "'; the artifact has "
                       << (names.empty() ? "none" : names);
  }
  std::map<std::string, int64_t> bindings;
  if (Status status = checkInputs(*entry, inputs, bindings); status.failed())
    return status;

  // Build the argument descriptors. Inputs are passed in place when their
  // data is naturally aligned, else copied.
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<std::vector<uint64_t>> alignedCopies;
  std::set<const void *> argumentPointers;
  for (const ArgumentSpec &arg : entry->arguments) {
    const void *data;
    const std::vector<int64_t> *shape;
    if (arg.kind == ArgumentSpec::Kind::Weight) {
      data = impl->weights->data(arg.weightIndex);
      shape = &impl->artifact.weights[arg.weightIndex].shape;
    } else {
      const TensorView &view = inputs.at(arg.input.name);
      data = view.data;
      shape = &view.shape;
      if (view.sizeBytes > 0 &&
          reinterpret_cast<uintptr_t>(data) % elementSize(view.dtype) != 0) {
        alignedCopies.emplace_back((view.sizeBytes + 7) / 8);
        std::memcpy(alignedCopies.back().data(), data, view.sizeBytes);
        data = alignedCopies.back().data();
      }
    }
    argumentPointers.insert(data);
    descriptors.push_back(makeDescriptor(data, *shape));
  }
  size_t blockWords = 0;
  for (const TensorSpec &result : entry->results)
    blockWords += 3 + 2 * result.shape.size();
  // Never null, even for an entry point without results.
  std::vector<int64_t> block(std::max<size_t>(blockWords, 1), 0);
  std::vector<void *> args;
  args.push_back(block.data());
  for (std::vector<int64_t> &descriptor : descriptors)
    args.push_back(descriptor.data());

  impl->functions.find(entryName)->second(args.data());

  return impl->readResults(*entry, block, bindings, argumentPointers);
}

Expected<std::vector<Tensor>>
Session::Impl::readResults(const EntryPointSpec &entry,
                           const std::vector<int64_t> &block,
                           const std::map<std::string, int64_t> &inputBindings,
                           const std::set<const void *> &argumentPointers) {
  Bindings bound;
  for (const auto &[symbol, value] : inputBindings)
    bound[symbol] = Binding{value, "an input"};
  std::vector<Tensor> outputs;
  std::set<void *> toFree;
  Status status = Status::success();
  const int64_t *words = block.data();
  for (const TensorSpec &spec : entry.results) {
    size_t rank = spec.shape.size();
    std::string what = "result '" + spec.name + "'";
    void *allocated, *aligned;
    std::memcpy(&allocated, &words[0], sizeof(void *));
    std::memcpy(&aligned, &words[1], sizeof(void *));
    int64_t offset = words[2];
    std::vector<int64_t> shape(words + 3, words + 3 + rank);
    const int64_t *strides = words + 3 + rank;
    words += 3 + 2 * rank;
    // Release every distinct buffer once, even after an error, but never one
    // the caller owns.
    if (allocated && argumentPointers.count(allocated)) {
      if (status.succeeded())
        status = makeError() << what << " aliases an argument buffer";
      continue;
    }
    if (allocated && isInsideLoadedObject(allocated)) {
      if (status.succeeded())
        status = makeError() << what
                             << " points into static data, not a malloc'ed "
                                "buffer";
      continue;
    }
    if (allocated)
      toFree.insert(allocated);
    if (status.failed())
      continue;
    Expected<int64_t> count = computeNumElements(shape);
    if (count.failed()) {
      status = count.status().withPrefix(what);
      continue;
    }
    for (size_t i = 0; i < rank && status.succeeded(); ++i)
      status = checkDim(spec, shape, i, what, bound);
    if (status.failed())
      continue;
    Tensor tensor;
    tensor.dtype = spec.dtype;
    tensor.shape = shape;
    size_t elemSize = elementSize(spec.dtype);
    tensor.data.resize(size_t(*count) * elemSize);
    if (*count > 0) {
      if (!aligned) {
        status = makeError() << what << " has a null data pointer";
        continue;
      }
      copyStrided(tensor.data.data(), static_cast<const uint8_t *>(aligned),
                  offset, shape, strides, elemSize, *count);
    }
    outputs.push_back(std::move(tensor));
  }
  for (void *pointer : toFree)
    std::free(pointer);
  if (status.failed())
    return status.withPrefix("entry point '" + entry.name + "'");
  return outputs;
}
