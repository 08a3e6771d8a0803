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

#include "session_impl.h"

#include "code_loader.h"
#include "cuda/backend.h"
#include "file_util.h"
#include "weights.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
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
/// One result's memref descriptor from the result block (docs/Artifact.md),
/// advancing `words` past it.
struct ResultDescriptor {
  void *allocated = nullptr;
  void *aligned = nullptr;
  int64_t offset = 0;
  std::vector<int64_t> shape;
  const int64_t *strides = nullptr;
};

ResultDescriptor readDescriptor(const int64_t *&words, size_t rank) {
  ResultDescriptor d;
  std::memcpy(&d.allocated, &words[0], sizeof(void *));
  std::memcpy(&d.aligned, &words[1], sizeof(void *));
  d.offset = words[2];
  d.shape.assign(words + 3, words + 3 + rank);
  d.strides = words + 3 + rank;
  words += 3 + 2 * rank;
  return d;
}

/// Whether a result's buffer is the code's to give away: not one of the
/// caller's buffers (`aliasedWhat` names them) and not static data of the
/// loaded object. Returns an error otherwise.
Status checkOwnedByCode(const void *allocated, const std::string &what,
                        const std::set<const void *> &callerBuffers,
                        const char *aliasedWhat) {
  if (allocated && callerBuffers.count(allocated))
    return makeError() << what << " aliases " << aliasedWhat;
  if (allocated && isInsideLoadedObject(allocated))
    return makeError() << what
                       << " points into static data, not a malloc'ed buffer";
  return Status::success();
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
  if (artifact.target == Target::Cuda) {
    if (!impl->code)
      return makeError() << "CUDA artifact without host code";
    Expected<std::unique_ptr<cuda::CudaBackend>> backend =
        cuda::CudaBackend::create(artifact, *impl->weights, *impl->code);
    if (backend.failed())
      return backend.status();
    impl->cuda = std::move(*backend);
  }
  impl->artifact = std::move(artifact);
  if (Status status = impl->runPrepare(); status.failed())
    return status;
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

/// Returns true if a memref of `sizes` and `strides` is dense row-major.
static bool isRowMajor(const std::vector<int64_t> &sizes,
                       const int64_t *strides) {
  int64_t expected = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] != 1 && strides[d] != expected)
      return false;
    expected *= sizes[d];
  }
  return true;
}

Status Session::Impl::runPrepare() {
  const EntryPointSpec *entry = artifact.findEntryPoint(kPrepareEntryPoint);
  if (!entry)
    return Status::success();
  // Validation guarantees weight arguments only and static result shapes.
  std::vector<std::vector<int64_t>> descriptors;
  std::set<const void *> argumentPointers;
  for (const ArgumentSpec &arg : entry->arguments) {
    const void *data = cuda ? cuda->weight(arg.weightIndex)
                            : weights->data(arg.weightIndex);
    argumentPointers.insert(data);
    descriptors.push_back(
        makeDescriptor(data, artifact.weights[arg.weightIndex].shape));
  }
  if (cuda)
    return cuda->runPrepare(*entry, functions.find(entry->name)->second,
                            descriptors);
  size_t blockWords = 0;
  for (const TensorSpec &result : entry->results)
    blockWords += 3 + 2 * result.shape.size();
  std::vector<int64_t> block(std::max<size_t>(blockWords, 1), 0);
  std::vector<void *> args;
  args.push_back(block.data());
  for (std::vector<int64_t> &descriptor : descriptors)
    args.push_back(descriptor.data());
  functions.find(entry->name)->second(args.data());

  // Keep each result in place when it is dense and naturally aligned, else
  // copy it to a dense block. Release every other block once, also after an
  // error, but never one that is not the code's to give away.
  Status status = Status::success();
  std::set<void *> allocatedBlocks, keptBlocks;
  std::vector<void *> copies;
  const int64_t *words = block.data();
  for (const TensorSpec &spec : entry->results) {
    size_t rank = spec.shape.size();
    std::string what = "result '" + spec.name + "'";
    auto [allocated, aligned, offset, shape, strides] =
        readDescriptor(words, rank);
    if (Status owned = checkOwnedByCode(allocated, what, argumentPointers,
                                        "a weight");
        owned.failed()) {
      if (status.succeeded())
        status = std::move(owned);
      continue;
    }
    if (allocated)
      allocatedBlocks.insert(allocated);
    if (status.failed())
      continue;
    if (shape != spec.shape) {
      status = makeError() << what << " has shape " << formatShape(shape)
                           << ", expected " << formatShape(spec.shape);
      continue;
    }
    size_t elemSize = elementSize(spec.dtype);
    int64_t count = *computeNumElements(shape); // validated on load
    if (count > 0 && !aligned) {
      status = makeError() << what << " has a null data pointer";
      continue;
    }
    const uint8_t *data =
        count > 0 ? static_cast<const uint8_t *>(aligned) + offset * elemSize
                  : nullptr;
    if (count > 0 && allocated && isRowMajor(shape, strides) &&
        reinterpret_cast<uintptr_t>(data) % elemSize == 0) {
      keptBlocks.insert(allocated);
      derived.push_back(data);
      continue;
    }
    void *copy = std::malloc(std::max<size_t>(size_t(count) * elemSize, 1));
    if (!copy) {
      status = makeError() << what << ": out of memory";
      continue;
    }
    copies.push_back(copy);
    if (count > 0)
      copyStrided(static_cast<uint8_t *>(copy),
                  static_cast<const uint8_t *>(aligned), offset, shape,
                  strides, elemSize, count);
    derived.push_back(copy);
  }
  for (void *pointer : allocatedBlocks)
    if (status.failed() || !keptBlocks.count(pointer))
      std::free(pointer);
  if (status.failed()) {
    for (void *copy : copies)
      std::free(copy);
    derived.clear();
    return status.withPrefix(std::string("entry point '") +
                             kPrepareEntryPoint + "'");
  }
  derivedBlocks.assign(keptBlocks.begin(), keptBlocks.end());
  derivedBlocks.insert(derivedBlocks.end(), copies.begin(), copies.end());
  return Status::success();
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
  if (entry->name == kPrepareEntryPoint)
    return makeError() << "entry point '" << kPrepareEntryPoint
                       << "' cannot be called: prepare runs at load";
  return impl->call(*entry, inputs);
}

Expected<std::vector<Tensor>>
Session::Impl::call(const EntryPointSpec &entrySpec,
                    const std::map<std::string, TensorView> &inputs,
                    bool deviceCaches,
                    const std::set<std::string> &skip) {
  const EntryPointSpec *entry = &entrySpec;
  std::map<std::string, int64_t> bindings;
  if (Status status = checkInputs(*entry, inputs, bindings); status.failed())
    return status;
  // The KV caches of prefill/decode are written in place; an unaligned one
  // is copied in and, after the call, back out.
  const GenerationSpec *generation =
      artifact.generation && (entry->name == artifact.generation->prefill ||
                              entry->name == artifact.generation->decode)
          ? &*artifact.generation
          : nullptr;
  std::vector<std::pair<const std::vector<uint64_t> *, const TensorView *>>
      writeBacks;
  // A result may alias neither an argument nor a derived weight's block.
  std::set<const void *> argumentPointers(derivedBlocks.begin(),
                                          derivedBlocks.end());

  // Build the argument descriptors. Inputs are passed in place when their
  // data is naturally aligned, else copied.
  std::vector<std::vector<int64_t>> descriptors;
  // A deque: copies keep their address while more are added.
  std::deque<std::vector<uint64_t>> alignedCopies;
  for (const ArgumentSpec &arg : entry->arguments) {
    const void *data;
    const std::vector<int64_t> *shape;
    if (arg.kind == ArgumentSpec::Kind::Weight) {
      data = cuda ? cuda->weight(arg.weightIndex)
                  : weights->data(arg.weightIndex);
      shape = &artifact.weights[arg.weightIndex].shape;
    } else if (arg.kind == ArgumentSpec::Kind::Derived) {
      data = cuda ? cuda->derived(arg.derivedIndex)
                  : derived[arg.derivedIndex];
      shape = &artifact.findEntryPoint(kPrepareEntryPoint)
                   ->results[arg.derivedIndex]
                   .shape;
    } else {
      const TensorView &view = inputs.at(arg.input.name);
      data = view.data;
      shape = &view.shape;
      if (cuda) {
        // KV caches handed in by generate() already live on the device
        // (the `deviceCaches` flag); every other input is copied there.
        if (!(deviceCaches && generation &&
              generation->findCache(arg.input.name))) {
          Expected<const void *> device = cuda->upload(data, view.sizeBytes);
          if (device.failed())
            return device.status();
          data = *device;
        }
      } else if (view.sizeBytes > 0 &&
          reinterpret_cast<uintptr_t>(data) % elementSize(view.dtype) != 0) {
        alignedCopies.emplace_back((view.sizeBytes + 7) / 8);
        std::memcpy(alignedCopies.back().data(), data, view.sizeBytes);
        data = alignedCopies.back().data();
        if (generation && generation->findCache(arg.input.name))
          writeBacks.emplace_back(&alignedCopies.back(), &view);
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

  if (cuda) {
    if (Status status = cuda->call(*entry, functions.find(entry->name)->second,
                                   args, block, skip);
        status.failed())
      return status;
    return readResults(*entry, block, bindings, argumentPointers, skip);
  }
  functions.find(entry->name)->second(args.data());
  for (const auto &[copy, view] : writeBacks)
    std::memcpy(const_cast<void *>(view->data), copy->data(), view->sizeBytes);

  return readResults(*entry, block, bindings, argumentPointers, skip);
}

Expected<std::vector<Tensor>>
Session::Impl::readResults(const EntryPointSpec &entry,
                           const std::vector<int64_t> &block,
                           const std::map<std::string, int64_t> &inputBindings,
                           const std::set<const void *> &argumentPointers,
                           const std::set<std::string> &skip) {
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
    auto [allocated, aligned, offset, shape, strides] =
        readDescriptor(words, rank);
    // Release every distinct buffer once, even after an error, but never one
    // the caller owns.
    if (Status owned = checkOwnedByCode(allocated, what, argumentPointers,
                                        "an argument buffer");
        owned.failed()) {
      if (status.succeeded())
        status = std::move(owned);
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
    if (skip.count(spec.name)) {
      outputs.push_back(std::move(tensor));
      continue;
    }
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
