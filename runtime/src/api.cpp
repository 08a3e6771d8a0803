//===- api.cpp - The ds runtime C API -------------------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/api.h"
#include "ds/runtime/session.h"

#include <exception>
#include <optional>
#include <new>

using namespace ds::runtime;

namespace {
/// Cached C views of one tensor spec.
struct InfoStorage {
  std::vector<const char *> dimNames;
  ds_tensor_info_t info;
};

/// Per entry point: cached infos, pending inputs and the last outputs.
struct EntryState {
  std::vector<InfoStorage> inputs;
  std::vector<InfoStorage> outputs;
  std::map<std::string, Tensor> pendingInputs;
  std::vector<Tensor> lastOutputs;
};
} // namespace

struct ds_session {
  std::unique_ptr<Session> session;
  std::map<std::string, EntryState, std::less<>> entries;
  /// The last successful generation, if any.
  std::optional<GenerationResult> generation;
};

static thread_local std::string lastError;

static ds_status_t fail(ds_status_t code, std::string message) {
  lastError = std::move(message);
  return code;
}

/// Runs `body`, turning any escaping exception into a status.
template <typename Fn> static ds_status_t guard(Fn &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(DS_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return fail(DS_ERROR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(DS_ERROR_INTERNAL, "internal error: unknown exception");
  }
}

static InfoStorage makeInfo(const TensorSpec &spec) {
  static const char *const kEmpty = "";
  InfoStorage storage;
  for (size_t i = 0; i < spec.shape.size(); ++i)
    storage.dimNames.push_back(
        i < spec.dimNames.size() ? spec.dimNames[i].c_str() : kEmpty);
  storage.info.name = spec.name.c_str();
  storage.info.dtype = static_cast<int32_t>(spec.dtype);
  storage.info.rank = spec.shape.size();
  storage.info.dims = spec.shape.data();
  return storage;
}

/// Finds the state of `entry` (NULL: "forward"), or sets the last error.
static EntryState *findEntry(const ds_session_t *session, const char *entry) {
  std::string_view name = entry ? entry : "forward";
  auto it = session->entries.find(name);
  if (it == session->entries.end()) {
    lastError = "unknown entry point '" + std::string(name) + "'";
    return nullptr;
  }
  return const_cast<EntryState *>(&it->second);
}

static const EntryPointSpec &entrySpec(const ds_session_t *session,
                                       const char *entry) {
  return *session->session->artifact().findEntryPoint(entry ? entry
                                                            : "forward");
}

extern "C" {

const char *ds_last_error(void) { return lastError.c_str(); }

size_t ds_dtype_size(int32_t dtype) {
  return isKnownDType(dtype) ? elementSize(static_cast<DType>(dtype)) : 0;
}

ds_status_t ds_session_create(const char *artifactPath, const char *weightsPath,
                              ds_session_t **outSession) {
  return guard([&]() -> ds_status_t {
    if (!artifactPath || !outSession)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "ds_session_create: null argument");
    *outSession = nullptr;
    Expected<std::unique_ptr<Session>> session =
        Session::create(artifactPath, weightsPath ? weightsPath : "");
    if (session.failed())
      return fail(DS_ERROR_LOAD, session.message());
    auto handle = std::make_unique<ds_session>();
    handle->session = std::move(*session);
    for (const EntryPointSpec &spec : handle->session->artifact().entryPoints) {
      EntryState &state = handle->entries[spec.name];
      for (const TensorSpec *input : spec.inputs())
        state.inputs.push_back(makeInfo(*input));
      for (const TensorSpec &output : spec.results)
        state.outputs.push_back(makeInfo(output));
      // Point into the final vectors only once they stop growing.
      for (std::vector<InfoStorage> *infos : {&state.inputs, &state.outputs})
        for (InfoStorage &info : *infos)
          info.info.dim_names = info.dimNames.data();
    }
    *outSession = handle.release();
    return DS_OK;
  });
}

void ds_session_destroy(ds_session_t *session) { delete session; }

ds_status_t ds_session_entry_point_count(const ds_session_t *session,
                                         size_t *outCount) {
  return guard([&]() -> ds_status_t {
    if (!session || !outCount)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    *outCount = session->session->artifact().entryPoints.size();
    return DS_OK;
  });
}

ds_status_t ds_session_entry_point_name(const ds_session_t *session,
                                        size_t index, const char **outName) {
  return guard([&]() -> ds_status_t {
    if (!session || !outName)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    const auto &entries = session->session->artifact().entryPoints;
    if (index >= entries.size())
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "entry point index " + std::to_string(index) +
                      " out of range (" + std::to_string(entries.size()) + ")");
    *outName = entries[index].name.c_str();
    return DS_OK;
  });
}

static ds_status_t getCount(const ds_session_t *session, const char *entry,
                            size_t *outCount, bool inputs) {
  return guard([&]() -> ds_status_t {
    if (!session || !outCount)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    EntryState *state = findEntry(session, entry);
    if (!state)
      return DS_ERROR_INVALID_ARGUMENT;
    *outCount = inputs ? state->inputs.size() : state->outputs.size();
    return DS_OK;
  });
}

static ds_status_t getInfo(const ds_session_t *session, const char *entry,
                           size_t index, ds_tensor_info_t *outInfo,
                           bool inputs) {
  return guard([&]() -> ds_status_t {
    if (!session || !outInfo)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    EntryState *state = findEntry(session, entry);
    if (!state)
      return DS_ERROR_INVALID_ARGUMENT;
    const std::vector<InfoStorage> &infos =
        inputs ? state->inputs : state->outputs;
    if (index >= infos.size())
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  std::string(inputs ? "input" : "output") + " index " +
                      std::to_string(index) + " out of range (" +
                      std::to_string(infos.size()) + ")");
    *outInfo = infos[index].info;
    return DS_OK;
  });
}

ds_status_t ds_session_input_count(const ds_session_t *session,
                                   const char *entry, size_t *outCount) {
  return getCount(session, entry, outCount, /*inputs=*/true);
}

ds_status_t ds_session_input_info(const ds_session_t *session,
                                  const char *entry, size_t index,
                                  ds_tensor_info_t *outInfo) {
  return getInfo(session, entry, index, outInfo, /*inputs=*/true);
}

ds_status_t ds_session_output_count(const ds_session_t *session,
                                    const char *entry, size_t *outCount) {
  return getCount(session, entry, outCount, /*inputs=*/false);
}

ds_status_t ds_session_output_info(const ds_session_t *session,
                                   const char *entry, size_t index,
                                   ds_tensor_info_t *outInfo) {
  return getInfo(session, entry, index, outInfo, /*inputs=*/false);
}

ds_status_t ds_session_set_input(ds_session_t *session, const char *entry,
                                 const char *name, int32_t dtype,
                                 const int64_t *dims, size_t rank,
                                 const void *data, size_t sizeBytes) {
  return guard([&]() -> ds_status_t {
    if (!session || !name || (rank > 0 && !dims) || (sizeBytes > 0 && !data))
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "ds_session_set_input: null argument");
    EntryState *state = findEntry(session, entry);
    if (!state)
      return DS_ERROR_INVALID_ARGUMENT;
    std::string what = "input '" + std::string(name) + "'";
    bool known = false;
    for (const InfoStorage &info : state->inputs)
      known |= std::string_view(info.info.name) == name;
    if (!known)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "unknown " + what + " for entry point '" +
                      entrySpec(session, entry).name + "'");
    if (!isKnownDType(dtype))
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  what + ": unknown dtype code " + std::to_string(dtype));
    if (rank > kMaxRank)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  what + ": rank " + std::to_string(rank) +
                      " exceeds the maximum of " + std::to_string(kMaxRank));
    Tensor tensor;
    tensor.dtype = static_cast<DType>(dtype);
    tensor.shape.assign(dims, dims + rank);
    Expected<int64_t> count = computeNumElements(tensor.shape);
    if (count.failed())
      return fail(DS_ERROR_INVALID_ARGUMENT, what + ": " + count.message());
    uint64_t expected = uint64_t(*count) * elementSize(tensor.dtype);
    if (sizeBytes != expected)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  what + ": data is " + std::to_string(sizeBytes) +
                      " bytes, expected " + std::to_string(expected));
    const auto *bytes = static_cast<const uint8_t *>(data);
    tensor.data.assign(bytes, bytes + sizeBytes);
    state->pendingInputs[name] = std::move(tensor);
    return DS_OK;
  });
}

ds_status_t ds_session_clear_inputs(ds_session_t *session, const char *entry) {
  return guard([&]() -> ds_status_t {
    if (!session)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    EntryState *state = findEntry(session, entry);
    if (!state)
      return DS_ERROR_INVALID_ARGUMENT;
    state->pendingInputs.clear();
    return DS_OK;
  });
}

ds_status_t ds_session_run(ds_session_t *session, const char *entry) {
  return guard([&]() -> ds_status_t {
    if (!session)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    EntryState *state = findEntry(session, entry);
    if (!state)
      return DS_ERROR_INVALID_ARGUMENT;
    state->lastOutputs.clear();
    const EntryPointSpec &spec = entrySpec(session, entry);
    if (spec.name == kPrepareEntryPoint)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  std::string("entry point '") + kPrepareEntryPoint +
                      "' cannot be called: prepare runs at load");
    std::map<std::string, TensorView> views;
    for (const auto &[name, tensor] : state->pendingInputs)
      views[name] = tensor.view();
    std::map<std::string, int64_t> bindings;
    if (Status status = checkInputs(spec, views, bindings); status.failed())
      return fail(DS_ERROR_INVALID_ARGUMENT, status.message());
    Expected<std::vector<Tensor>> outputs =
        session->session->run(spec.name, views);
    if (outputs.failed())
      return fail(DS_ERROR_RUN, outputs.message());
    state->lastOutputs = std::move(*outputs);
    return DS_OK;
  });
}

ds_status_t ds_session_get_output(const ds_session_t *session,
                                  const char *entry, size_t index,
                                  ds_tensor_t *outTensor) {
  return guard([&]() -> ds_status_t {
    if (!session || !outTensor)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    EntryState *state = findEntry(session, entry);
    if (!state)
      return DS_ERROR_INVALID_ARGUMENT;
    if (index >= state->lastOutputs.size())
      return fail(
          DS_ERROR_INVALID_ARGUMENT,
          "output index " + std::to_string(index) +
              (state->lastOutputs.empty()
                   ? " unavailable: the entry point has not run successfully"
                   : " out of range (" +
                         std::to_string(state->lastOutputs.size()) + ")"));
    const Tensor &tensor = state->lastOutputs[index];
    outTensor->dtype = static_cast<int32_t>(tensor.dtype);
    outTensor->rank = tensor.shape.size();
    outTensor->dims = tensor.shape.data();
    outTensor->data = tensor.data.data();
    outTensor->size_bytes = tensor.data.size();
    return DS_OK;
  });
}

void ds_generation_options_init(ds_generation_options_t *options) {
  if (!options)
    return;
  GenerationOptions defaults;
  options->max_new_tokens = defaults.maxNewTokens;
  options->max_seq_len = defaults.maxSeqLen;
  options->temperature = defaults.temperature;
  options->top_k = defaults.topK;
  options->top_p = defaults.topP;
  options->seed = defaults.seed;
  options->eos_token_ids = nullptr;
  options->num_eos_token_ids = 0;
}

ds_status_t ds_session_generate(ds_session_t *session,
                                const int64_t *const *prompts,
                                const size_t *promptLengths, size_t batch,
                                const ds_generation_options_t *options) {
  return guard([&]() -> ds_status_t {
    if (!session || (batch > 0 && (!prompts || !promptLengths)))
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "ds_session_generate: null argument");
    session->generation.reset();
    std::vector<std::vector<int64_t>> sequences(batch);
    for (size_t i = 0; i < batch; ++i) {
      if (promptLengths[i] > 0 && !prompts[i])
        return fail(DS_ERROR_INVALID_ARGUMENT,
                    "ds_session_generate: prompt " + std::to_string(i) +
                        " is null");
      if (promptLengths[i] > 0)
        sequences[i].assign(prompts[i], prompts[i] + promptLengths[i]);
    }
    GenerationOptions config;
    if (options) {
      config.maxNewTokens = options->max_new_tokens;
      config.maxSeqLen = options->max_seq_len;
      config.temperature = options->temperature;
      config.topK = options->top_k;
      config.topP = options->top_p;
      config.seed = options->seed;
      if (options->num_eos_token_ids > 0) {
        if (!options->eos_token_ids)
          return fail(DS_ERROR_INVALID_ARGUMENT,
                      "ds_session_generate: eos_token_ids is null but "
                      "num_eos_token_ids is " +
                          std::to_string(options->num_eos_token_ids));
        config.eosTokenIds.assign(options->eos_token_ids,
                                  options->eos_token_ids +
                                      options->num_eos_token_ids);
      }
    }
    if (Status status = session->session->checkGeneration(sequences, config);
        status.failed())
      return fail(DS_ERROR_INVALID_ARGUMENT, status.message());
    GenerationResult result;
    if (Status status = session->session->generate(sequences, config, &result);
        status.failed())
      return fail(DS_ERROR_RUN, status.message());
    session->generation = std::move(result);
    return DS_OK;
  });
}

ds_status_t ds_session_generated_tokens(const ds_session_t *session,
                                        size_t index, const int64_t **outTokens,
                                        size_t *outCount) {
  return guard([&]() -> ds_status_t {
    if (!session || !outTokens || !outCount)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    if (!session->generation)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "no generation: ds_session_generate has not succeeded");
    const auto &tokens = session->generation->tokens;
    if (index >= tokens.size())
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "sequence index " + std::to_string(index) +
                      " out of range (" + std::to_string(tokens.size()) + ")");
    *outTokens = tokens[index].data();
    *outCount = tokens[index].size();
    return DS_OK;
  });
}

ds_status_t ds_session_generation_timing(const ds_session_t *session,
                                         double *outPrefillMs,
                                         const double **outDecodeMs,
                                         size_t *outSteps) {
  return guard([&]() -> ds_status_t {
    if (!session)
      return fail(DS_ERROR_INVALID_ARGUMENT, "null argument");
    if (!session->generation)
      return fail(DS_ERROR_INVALID_ARGUMENT,
                  "no generation: ds_session_generate has not succeeded");
    if (outPrefillMs)
      *outPrefillMs = session->generation->prefillMs;
    if (outDecodeMs)
      *outDecodeMs = session->generation->decodeMs.data();
    if (outSteps)
      *outSteps = session->generation->decodeMs.size();
    return DS_OK;
  });
}

} // extern "C"
