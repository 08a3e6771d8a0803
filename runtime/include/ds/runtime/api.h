/*===- api.h - The ds runtime C API -------------------------------*- C -*-===*\
|*                                                                            *|
|* Part of the ds project.                                                    *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* A C API over ds::runtime::Session for framework integrators. Every call    *|
|* returns a ds_status_t; on failure ds_last_error() returns a message.       *|
|* No C++ exception crosses this API. Handles are opaque. A session is not    *|
|* safe for concurrent calls; distinct sessions are independent.              *|
|*                                                                            *|
|* Typical use:                                                               *|
|*   ds_session_t *s;                                                         *|
|*   if (ds_session_create("model.dsa", NULL, &s) != DS_OK)                   *|
|*     fprintf(stderr, "error: %s\n", ds_last_error());                       *|
|*   ds_session_set_input(s, "forward", "x", DS_DTYPE_F32, dims, 2, data, n); *|
|*   ds_session_run(s, "forward");                                            *|
|*   ds_tensor_t y; ds_session_get_output(s, "forward", 0, &y);               *|
|*   ds_session_destroy(s);                                                   *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef DS_RUNTIME_API_H
#define DS_RUNTIME_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Marks the C API for export from the shared runtime library, which
/// hides every other symbol.
#if defined(DS_RUNTIME_EXPORT_C_API)
#define DS_API __attribute__((visibility("default")))
#else
#define DS_API
#endif

/// Status codes.
typedef enum ds_status {
  DS_OK = 0,
  /// A null or out-of-range argument, an unknown entry point, input or
  /// output name, or inputs that do not match the entry point.
  DS_ERROR_INVALID_ARGUMENT = 1,
  /// The artifact, its weights or its code could not be loaded.
  DS_ERROR_LOAD = 2,
  /// Running an entry point failed (e.g. it returned malformed results).
  DS_ERROR_RUN = 3,
  DS_ERROR_OUT_OF_MEMORY = 4,
  /// An unexpected internal failure.
  DS_ERROR_INTERNAL = 5,
} ds_status_t;

/// Element types (ONNX TensorProto.DataType numbers).
enum {
  DS_DTYPE_F32 = 1,
  DS_DTYPE_U8 = 2,
  DS_DTYPE_I8 = 3,
  DS_DTYPE_U16 = 4,
  DS_DTYPE_I16 = 5,
  DS_DTYPE_I32 = 6,
  DS_DTYPE_I64 = 7,
  DS_DTYPE_BOOL = 9,
  DS_DTYPE_F16 = 10,
  DS_DTYPE_F64 = 11,
  DS_DTYPE_U32 = 12,
  DS_DTYPE_U64 = 13,
  DS_DTYPE_BF16 = 16,
};

typedef struct ds_session ds_session_t;

/// The declared type of an entry point input or output. Pointers stay valid
/// for the life of the session.
typedef struct ds_tensor_info {
  const char *name;
  int32_t dtype;
  size_t rank;
  /// `rank` dims: >= 0 static, -1 dynamic.
  const int64_t *dims;
  /// `rank` symbolic names ("" for none).
  const char *const *dim_names;
} ds_tensor_info_t;

/// A dense row-major tensor produced by a run.
typedef struct ds_tensor {
  int32_t dtype;
  size_t rank;
  const int64_t *dims;
  const void *data;
  size_t size_bytes;
} ds_tensor_t;

/// Returns the message of the last failed call on this thread ("" if none).
/// Valid until the next failing call on this thread.
DS_API const char *ds_last_error(void);

/// Returns the size in bytes of one element of `dtype`, or 0 if unknown.
DS_API size_t ds_dtype_size(int32_t dtype);

/// Loads an artifact. `weights_path` may be NULL; otherwise it replaces the
/// artifact's default weights file (docs/Runtime.md).
DS_API ds_status_t ds_session_create(const char *artifact_path,
                              const char *weights_path,
                              ds_session_t **out_session);

/// Releases a session and everything it returned. NULL is ignored.
DS_API void ds_session_destroy(ds_session_t *session);

DS_API ds_status_t ds_session_entry_point_count(const ds_session_t *session,
                                         size_t *out_count);
DS_API ds_status_t ds_session_entry_point_name(const ds_session_t *session,
                                        size_t index, const char **out_name);

/// In the calls below, `entry` names an entry point; NULL means "forward".
DS_API ds_status_t ds_session_input_count(const ds_session_t *session,
                                   const char *entry, size_t *out_count);
DS_API ds_status_t ds_session_input_info(const ds_session_t *session,
                                  const char *entry, size_t index,
                                  ds_tensor_info_t *out_info);
DS_API ds_status_t ds_session_output_count(const ds_session_t *session,
                                    const char *entry, size_t *out_count);
DS_API ds_status_t ds_session_output_info(const ds_session_t *session,
                                   const char *entry, size_t index,
                                   ds_tensor_info_t *out_info);

/// Copies a host buffer in as input `name` of `entry` for the next runs.
DS_API ds_status_t ds_session_set_input(ds_session_t *session, const char *entry,
                                 const char *name, int32_t dtype,
                                 const int64_t *dims, size_t rank,
                                 const void *data, size_t size_bytes);

/// Forgets every input set for `entry`.
DS_API ds_status_t ds_session_clear_inputs(ds_session_t *session, const char *entry);

/// Runs `entry` on the inputs set for it.
DS_API ds_status_t ds_session_run(ds_session_t *session, const char *entry);

/// Returns output `index` of the last successful run of `entry`. The
/// pointers stay valid until the next run of `entry` or ds_session_destroy.
DS_API ds_status_t ds_session_get_output(const ds_session_t *session,
                                  const char *entry, size_t index,
                                  ds_tensor_t *out_tensor);

/// Generation options (docs/Runtime.md, "Generation"). Start from
/// ds_generation_options_init, which sets the defaults noted here.
typedef struct ds_generation_options {
  /// Tokens to generate per sequence, >= 1 (default 16). Every sequence
  /// gets this many unless it stops on an end-of-sequence token.
  int64_t max_new_tokens;
  /// KV cache capacity per sequence; 0 (default) means longest prompt +
  /// max_new_tokens.
  int64_t max_seq_len;
  /// 0 (default) means greedy; > 0 scales the logits before sampling.
  double temperature;
  /// Keep the k most likely tokens; 0 (default) means off.
  int64_t top_k;
  /// Nucleus filtering, in (0, 1]; 1 (default) means off.
  double top_p;
  /// Seeds the sampler (default 0); same seed, same tokens.
  uint64_t seed;
  /// `num_eos_token_ids` end-of-sequence token ids, each in
  /// [0, vocab_size) (default none: NULL, 0). A sequence stops right after
  /// emitting one (it is the last token of its output); generation ends
  /// when every sequence has stopped. The array is read during
  /// ds_session_generate only.
  const int64_t *eos_token_ids;
  size_t num_eos_token_ids;
} ds_generation_options_t;

/// Fills `options` with the defaults. NULL is ignored.
DS_API void ds_generation_options_init(ds_generation_options_t *options);

/// Generates tokens after `batch` prompts: prompt `i` is `prompt_lengths[i]`
/// token ids at `prompts[i]`. `options` may be NULL (defaults). Bad prompts
/// or options (empty prompts, token ids or end-of-sequence ids outside the
/// vocabulary, lengths beyond max_seq_len, an artifact without
/// prefill/decode entry points) give DS_ERROR_INVALID_ARGUMENT before any
/// work; a failing entry point
/// gives DS_ERROR_RUN. The results stay available through the accessors
/// below until the next ds_session_generate or ds_session_destroy.
DS_API ds_status_t ds_session_generate(ds_session_t *session,
                                       const int64_t *const *prompts,
                                       const size_t *prompt_lengths,
                                       size_t batch,
                                       const ds_generation_options_t *options);

/// The tokens generated for sequence `index` of the last successful
/// ds_session_generate (generated tokens only, not the prompt).
DS_API ds_status_t ds_session_generated_tokens(const ds_session_t *session,
                                               size_t index,
                                               const int64_t **out_tokens,
                                               size_t *out_count);

/// Timing of the last successful ds_session_generate: time to first token
/// (prefill + sampling) in ms, and the time of each decode step in ms
/// (`*out_steps` = max_new_tokens - 1 of them, fewer when every sequence
/// stopped early). Any out pointer may be NULL.
DS_API ds_status_t ds_session_generation_timing(const ds_session_t *session,
                                                double *out_prefill_ms,
                                                const double **out_decode_ms,
                                                size_t *out_steps);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // DS_RUNTIME_API_H
