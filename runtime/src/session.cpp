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
#include "cuda/backend.h"
#include "file_util.h"
#include "sampler.h"
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

struct Session::Impl {
  Artifact artifact;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<SharedObject> code;
  /// CUDA artifacts: device, weights and derived weights on the device.
  /// Declared after `code`, destroyed before it.
  std::unique_ptr<cuda::CudaBackend> cuda;
  std::map<std::string, EntryFunction, std::less<>> functions;
  /// The results of `prepare`: dense row-major data per result, and the
  /// malloc'ed blocks that hold them (freed with the session).
  std::vector<const void *> derived;
  std::vector<void *> derivedBlocks;

  ~Impl() {
    for (void *block : derivedBlocks)
      std::free(block);
  }

  /// Runs `prepare` (when the artifact has one) and keeps its results.
  Status runPrepare();

  /// Checks `inputs` and calls `entry`.
  /// `deviceCaches`: the KV-cache inputs already point to device memory
  /// (generate() on a CUDA artifact). Results named in `skip` are checked
  /// but not read: their tensors have a shape and no data (generate()
  /// leaves the logits on the device when it reads the greedy tokens).
  Expected<std::vector<Tensor>>
  call(const EntryPointSpec &entry,
       const std::map<std::string, TensorView> &inputs,
       bool deviceCaches = false, const std::set<std::string> &skip = {});

  Expected<std::vector<Tensor>>
  readResults(const EntryPointSpec &entry, const std::vector<int64_t> &block,
              const std::map<std::string, int64_t> &inputBindings,
              const std::set<const void *> &argumentPointers,
              const std::set<std::string> &skip);
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

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

namespace {
/// The shapes one generation call passes, for checks before any work.
struct GenerationShapes {
  int64_t batch = 0;
  int64_t longest = 0;
  int64_t maxSeqLen = 0;
};

/// Returns the reason the compiler recorded under "kv_cache" in the stats
/// JSON, or "" when there is none.
std::string kvCacheReason(const std::string &stats) {
  if (stats.empty())
    return {};
  nlohmann::json json =
      nlohmann::json::parse(stats, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object())
    return {};
  auto it = json.find("kv_cache");
  if (it == json.end())
    return {};
  if (it->is_string())
    return it->get<std::string>() == "ok" ? std::string()
                                          : it->get<std::string>();
  return it->dump();
}

/// Views of the generation inputs of one call, over `tokens`, `positions`
/// and the caches.
std::map<std::string, TensorView>
generationViews(const GenerationSpec &generation, const Tensor &tokens,
                const Tensor &positions,
                const std::vector<TensorView> &caches) {
  std::map<std::string, TensorView> views;
  views[generation.tokens] = tokens.view();
  views[generation.positions] = positions.view();
  for (size_t i = 0; i < generation.caches.size(); ++i)
    views[generation.caches[i].argument] = caches[i];
  return views;
}

/// The shape of cache `spec` for `shapes`.
std::vector<int64_t> cacheShape(const TensorSpec &spec,
                                const GenerationShapes &shapes) {
  return {shapes.batch, spec.shape[1], shapes.maxSeqLen, spec.shape[3]};
}

const TensorSpec &inputSpec(const EntryPointSpec &entry,
                            const std::string &name) {
  for (const ArgumentSpec &arg : entry.arguments)
    if (arg.kind == ArgumentSpec::Kind::Input && arg.input.name == name)
      return arg.input;
  std::abort(); // validated on load
}

size_t resultIndex(const EntryPointSpec &entry, const std::string &name) {
  for (size_t i = 0; i < entry.results.size(); ++i)
    if (entry.results[i].name == name)
      return i;
  std::abort(); // validated on load
}

double milliseconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}
} // namespace

Status
Session::checkGeneration(const std::vector<std::vector<int64_t>> &prompts,
                         const GenerationOptions &options) const {
  const Artifact &artifact = impl->artifact;
  if (!artifact.generation) {
    std::string reason = kvCacheReason(artifact.stats);
    return makeError() << "artifact has no prefill/decode entry points"
                       << (reason.empty() ? std::string(
                                                " (it was compiled without "
                                                "a KV cache)")
                                          : ": " + reason);
  }
  const GenerationSpec &generation = *artifact.generation;
  if (prompts.empty())
    return makeError() << "no prompts";
  GenerationShapes shapes;
  shapes.batch = int64_t(prompts.size());
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (prompts[b].empty())
      return makeError() << "prompt " << b << " is empty";
    for (size_t i = 0; i < prompts[b].size(); ++i)
      if (prompts[b][i] < 0 || prompts[b][i] >= generation.vocabSize)
        return makeError() << "prompt " << b << ": token " << i << " is "
                           << prompts[b][i] << ", outside [0, "
                           << generation.vocabSize << ") (the vocabulary)";
    shapes.longest = std::max(shapes.longest, int64_t(prompts[b].size()));
  }
  if (options.maxNewTokens < 1)
    return makeError() << "max_new_tokens must be at least 1, got "
                       << options.maxNewTokens;
  if (options.maxSeqLen < 0)
    return makeError() << "max_seq_len must be >= 0 (0: longest prompt + "
                          "max_new_tokens), got "
                       << options.maxSeqLen;
  if (!std::isfinite(options.temperature) || options.temperature < 0)
    return makeError() << "temperature must be >= 0 (0: greedy), got "
                       << options.temperature;
  if (options.topK < 0)
    return makeError() << "top_k must be >= 0 (0: off), got " << options.topK;
  if (!(options.topP > 0 && options.topP <= 1))
    return makeError() << "top_p must be in (0, 1] (1: off), got "
                       << options.topP;
  for (size_t i = 0; i < options.eosTokenIds.size(); ++i)
    if (options.eosTokenIds[i] < 0 ||
        options.eosTokenIds[i] >= generation.vocabSize)
      return makeError() << "eos_token_ids[" << i << "] is "
                         << options.eosTokenIds[i] << ", outside [0, "
                         << generation.vocabSize << ") (the vocabulary)";
  int64_t needed;
  if (__builtin_add_overflow(shapes.longest, options.maxNewTokens, &needed))
    return makeError() << "max_new_tokens " << options.maxNewTokens
                       << " is too large";
  shapes.maxSeqLen = options.maxSeqLen ? options.maxSeqLen : needed;
  if (needed > shapes.maxSeqLen)
    return makeError() << "the longest prompt (" << shapes.longest
                       << " tokens) + max_new_tokens ("
                       << options.maxNewTokens << ") = " << needed
                       << " exceeds max_seq_len " << shapes.maxSeqLen;
  if (generation.maxPositions > 0 && shapes.maxSeqLen > generation.maxPositions)
    return makeError() << (options.maxSeqLen
                               ? "max_seq_len " +
                                     std::to_string(shapes.maxSeqLen)
                               : "the longest prompt (" +
                                     std::to_string(shapes.longest) +
                                     " tokens) + max_new_tokens (" +
                                     std::to_string(options.maxNewTokens) +
                                     ") = " + std::to_string(needed))
                       << " exceeds the model's max_positions "
                       << generation.maxPositions;
  // The inputs every call will pass, checked against both entry points
  // without data (checkInputs reads none).
  static const uint64_t kNoData = 0;
  const EntryPointSpec *entries[2] = {
      artifact.findEntryPoint(generation.prefill),
      artifact.findEntryPoint(generation.decode)};
  for (int i = 0; i < 2; ++i) {
    int64_t seq = i == 0 ? shapes.longest : 1;
    std::map<std::string, TensorView> views;
    views[generation.tokens] = {DType::I64, {shapes.batch, seq}, &kNoData,
                                size_t(shapes.batch * seq) * 8};
    views[generation.positions] = {DType::I64, {shapes.batch}, &kNoData,
                                   size_t(shapes.batch) * 8};
    for (const CacheSpec &cache : generation.caches) {
      const TensorSpec &spec = inputSpec(*entries[i], cache.argument);
      std::vector<int64_t> shape = cacheShape(spec, shapes);
      Expected<int64_t> count = computeNumElements(shape);
      if (count.failed())
        return count.status().withPrefix("KV cache '" + cache.argument +
                                         "' " + formatShape(shape));
      views[cache.argument] = {spec.dtype, shape, &kNoData,
                               size_t(*count) * elementSize(spec.dtype)};
    }
    std::map<std::string, int64_t> bindings;
    if (Status status = checkInputs(*entries[i], views, bindings);
        status.failed())
      return status.withPrefix("entry point '" + entries[i]->name + "'");
  }
  return Status::success();
}

Status Session::generate(const std::vector<std::vector<int64_t>> &prompts,
                         const GenerationOptions &options,
                         GenerationResult *result) {
  if (!result)
    return makeError() << "generate: no result";
  if (Status status = checkGeneration(prompts, options); status.failed())
    return status;
  const GenerationSpec &generation = *impl->artifact.generation;
  const EntryPointSpec &prefill =
      *impl->artifact.findEntryPoint(generation.prefill);
  const EntryPointSpec &decode =
      *impl->artifact.findEntryPoint(generation.decode);
  size_t prefillLogits = resultIndex(prefill, generation.logits);
  size_t decodeLogits = resultIndex(decode, generation.logits);
  // Greedy with the compiled argmax: read the token ids, leave the logits
  // (on a GPU, where they are) unread.
  const bool compiledGreedy =
      options.temperature == 0 && !generation.nextTokens.empty();
  std::set<std::string> skip;
  size_t prefillNext = 0, decodeNext = 0;
  if (compiledGreedy) {
    skip.insert(generation.logits);
    prefillNext = resultIndex(prefill, generation.nextTokens);
    decodeNext = resultIndex(decode, generation.nextTokens);
  }
  GenerationShapes shapes;
  shapes.batch = int64_t(prompts.size());
  for (const std::vector<int64_t> &prompt : prompts)
    shapes.longest = std::max(shapes.longest, int64_t(prompt.size()));
  shapes.maxSeqLen = options.maxSeqLen ? options.maxSeqLen
                                       : shapes.longest + options.maxNewTokens;
  const int64_t batch = shapes.batch, vocab = generation.vocabSize;

  // The caches, zero-filled, allocated once for the whole generation.
  std::vector<std::unique_ptr<void, std::function<void(void *)>>> cacheBlocks;
  std::vector<TensorView> caches;
  for (const CacheSpec &cache : generation.caches) {
    const TensorSpec &spec = inputSpec(prefill, cache.argument);
    std::vector<int64_t> shape = cacheShape(spec, shapes);
    size_t bytes = size_t(*computeNumElements(shape)) * elementSize(spec.dtype);
    if (impl->cuda) {
      Expected<void *> device = impl->cuda->allocCache(bytes, cache.argument);
      if (device.failed())
        return device.status();
      cuda::CudaBackend *backend = impl->cuda.get();
      cacheBlocks.emplace_back(*device, [backend](void *p) {
        backend->freeCache(p);
      });
      caches.push_back({spec.dtype, shape, *device, bytes});
      continue;
    }
    void *block = std::calloc(std::max<size_t>(bytes, 1), 1);
    if (!block)
      return makeError() << "cannot allocate KV cache '" << cache.argument
                         << "' " << dtypeName(spec.dtype)
                         << formatShape(shape) << " (" << bytes << " bytes)";
    cacheBlocks.emplace_back(block, [](void *p) { std::free(p); });
    caches.push_back({spec.dtype, shape, block, bytes});
  }

  SamplingParams params{options.temperature, options.topK, options.topP};
  Rng rng(options.seed);
  std::vector<double> row(size_t(vocab), 0.0);
  // Rows that emitted an end-of-sequence token. They keep being fed (their
  // last token at the next position: batch rows are independent, so this
  // changes nothing for the others) but their samples are skipped, with the
  // draws they would have taken, so that every other row samples what it
  // would have without the end-of-sequence ids.
  std::vector<char> stopped(size_t(batch), 0);
  int64_t running = batch;
  auto emit = [&](int64_t b, int64_t token) {
    result->tokens[b].push_back(token);
    if (std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(),
                  token) != options.eosTokenIds.end()) {
      stopped[b] = 1;
      --running;
    }
  };
  // Samples the next token of every running row from logits
  // [batch, seq, vocab] at `s`.
  auto sampleRows = [&](const Tensor &logits, int64_t s) {
    int64_t seq = logits.shape[1];
    size_t elemSize = elementSize(logits.dtype);
    for (int64_t b = 0; b < batch; ++b) {
      if (stopped[b]) {
        skipToken(params, rng);
        continue;
      }
      const uint8_t *base =
          logits.data.data() + size_t((b * seq + s) * vocab) * elemSize;
      if (logits.dtype == DType::F32) {
        const float *values = reinterpret_cast<const float *>(base);
        for (int64_t v = 0; v < vocab; ++v)
          row[v] = values[v];
      } else {
        for (int64_t v = 0; v < vocab; ++v)
          row[v] = elementToDouble(logits.dtype, base + v * elemSize);
      }
      emit(b, sampleToken(row, params, rng));
    }
  };
  // Row b's greedy token at position s of next_tokens [batch, seq].
  auto nextToken = [&](const Tensor &next, int64_t b,
                       int64_t s) -> Expected<int64_t> {
    std::vector<int64_t> expected = {batch, next.shape.size() == 2
                                                ? next.shape[1]
                                                : int64_t(-1)};
    if (next.shape != expected || s >= next.shape[1])
      return makeError() << "result '" << generation.nextTokens
                         << "' has shape " << formatShape(next.shape)
                         << ", expected [" << batch << ", seq]";
    int64_t token;
    std::memcpy(&token, next.data.data() + size_t(b * next.shape[1] + s) * 8,
                8);
    if (token < 0 || token >= vocab)
      return makeError() << "result '" << generation.nextTokens
                         << "' holds token " << token << ", outside [0, "
                         << vocab << ")";
    return token;
  };
  auto checkLogits = [&](const Tensor &logits, int64_t seq,
                         const std::string &entry) -> Status {
    std::vector<int64_t> expected = {batch, seq, vocab};
    if (logits.shape != expected)
      return makeError() << "entry point '" << entry << "': result '"
                         << generation.logits << "' has shape "
                         << formatShape(logits.shape) << ", expected "
                         << formatShape(expected);
    return Status::success();
  };

  result->tokens.assign(size_t(batch), {});
  result->decodeMs.clear();
  result->decodePositions.clear();
  result->prefillMs = 0;

  // Prefill: the prompts right-padded with token 0, all starting at 0. The
  // padding is harmless: attention is causal, so a row's real tokens never
  // see the padding after them, and decode overwrites the padded cache
  // slots before any query can see them.
  Tensor tokens;
  tokens.dtype = DType::I64;
  tokens.shape = {batch, shapes.longest};
  tokens.data.assign(size_t(batch * shapes.longest) * 8, 0);
  auto *tokenData = reinterpret_cast<int64_t *>(tokens.data.data());
  for (int64_t b = 0; b < batch; ++b)
    std::copy(prompts[b].begin(), prompts[b].end(),
              tokenData + b * shapes.longest);
  Tensor positions;
  positions.dtype = DType::I64;
  positions.shape = {batch};
  positions.data.assign(size_t(batch) * 8, 0);
  auto *positionData = reinterpret_cast<int64_t *>(positions.data.data());

  auto start = std::chrono::steady_clock::now();
  const bool onDevice = impl->cuda != nullptr;
  Expected<std::vector<Tensor>> outputs = impl->call(
      prefill, generationViews(generation, tokens, positions, caches),
      onDevice, skip);
  if (outputs.failed())
    return outputs.status().withPrefix("prefill");
  const Tensor &prefillOut = (*outputs)[prefillLogits];
  if (Status status = checkLogits(prefillOut, shapes.longest, prefill.name);
      status.failed())
    return status;
  if (compiledGreedy) {
    for (int64_t b = 0; b < batch; ++b) {
      Expected<int64_t> token = nextToken(
          (*outputs)[prefillNext], b, int64_t(prompts[b].size()) - 1);
      if (token.failed())
        return token.status().withPrefix("entry point '" + prefill.name + "'");
      emit(b, *token);
    }
  } else {
    // Row b's first token comes from its last prompt position.
    int64_t seq = prefillOut.shape[1];
    size_t elemSize = elementSize(prefillOut.dtype);
    for (int64_t b = 0; b < batch; ++b) {
      int64_t s = int64_t(prompts[b].size()) - 1;
      const uint8_t *base =
          prefillOut.data.data() + size_t((b * seq + s) * vocab) * elemSize;
      for (int64_t v = 0; v < vocab; ++v)
        row[v] = elementToDouble(prefillOut.dtype, base + v * elemSize);
      emit(b, sampleToken(row, params, rng));
    }
  }
  result->prefillMs = milliseconds(start);

  // Decode: each row's last token at the position after its sequence so
  // far (the number of its tokens already in the cache), until every row
  // has maxNewTokens tokens or has stopped.
  tokens.shape = {batch, 1};
  tokens.data.assign(size_t(batch) * 8, 0);
  tokenData = reinterpret_cast<int64_t *>(tokens.data.data());
  for (int64_t step = 1; step < options.maxNewTokens && running > 0; ++step) {
    start = std::chrono::steady_clock::now();
    int64_t maxPosition = 0;
    for (int64_t b = 0; b < batch; ++b) {
      tokenData[b] = result->tokens[b].back();
      positionData[b] = int64_t(prompts[b].size()) + step - 1;
      maxPosition = std::max(maxPosition, positionData[b]);
    }
    outputs = impl->call(decode,
                         generationViews(generation, tokens, positions, caches),
                         onDevice, skip);
    if (outputs.failed())
      return outputs.status().withPrefix("decode step " +
                                         std::to_string(step));
    const Tensor &logits = (*outputs)[decodeLogits];
    if (Status status = checkLogits(logits, 1, decode.name); status.failed())
      return status;
    if (compiledGreedy) {
      for (int64_t b = 0; b < batch; ++b) {
        if (stopped[b])
          continue;
        Expected<int64_t> token = nextToken((*outputs)[decodeNext], b, 0);
        if (token.failed())
          return token.status()
              .withPrefix("entry point '" + decode.name + "'")
              .withPrefix("decode step " + std::to_string(step));
        emit(b, *token);
      }
    } else {
      sampleRows(logits, 0);
    }
    result->decodeMs.push_back(milliseconds(start));
    result->decodePositions.push_back(maxPosition);
  }
  return Status::success();
}
