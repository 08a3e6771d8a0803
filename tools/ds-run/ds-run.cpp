//===- ds-run.cpp - Run a compiled ds artifact ----------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// ds-run OUT.dsa --input NAME=PATH.npy ... [--output-dir DIR] [--weights PATH]
//        [--entry NAME] [--bench] [--bench-iters N]
// ds-run OUT.dsa --generate --prompt 1,2,3 [--prompt ...] [--batch B]
//        [--max-new-tokens N] [--max-seq-len L] [--temperature T]
//        [--top-k K] [--top-p P] [--seed S] [--eos ID[,ID...]]...
//        [--weights PATH] [--bench] [--bench-json FILE]
//
// Runs one entry point (default `forward`) on .npy inputs. With --output-dir,
// writes DIR/<output name>.npy for every output; otherwise prints one line
// per output: `name: dtype[shape] min=.. max=.. mean=..`. --bench runs the
// entry point --bench-iters times (default 20) and reports the median and
// p90 wall time per run on stderr.
//
// With --generate, generates tokens after each prompt through the artifact's
// prefill/decode entry points and prints one line per sequence on stdout:
// the generated token ids, space-separated (a sequence that emits an --eos
// id stops there, the id included); time to first token and decode
// tokens/s go to stderr. --bench adds per-step decode statistics on stderr,
// and --bench-json FILE writes {"ttft_ms", "decode_ms", "positions",
// "batch"}.
//
// Exit status 0 on success; otherwise one line `error: ...` on stderr and
// exit status 1.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/npy.h"
#include "ds/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <set>

using namespace ds::runtime;

namespace {
/// The parsed command line.
struct Options {
  std::string artifactPath;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::string outputDir;
  std::string weightsPath;
  std::string entry = "forward";
  bool bench = false;
  int benchIterations = 20;
  bool benchIterationsGiven = false;
  bool help = false;
  // Generation mode.
  bool generate = false;
  std::vector<std::vector<int64_t>> prompts;
  int64_t batch = 0; // 0: not given
  GenerationOptions generation;
  std::string benchJson;
  /// The generation flags given, to reject them without --generate.
  std::vector<std::string> generationFlags;
};
} // namespace

static constexpr int kMaxBenchIterations = 1000000;

static const char kUsage[] =
    "usage: ds-run OUT.dsa [--input NAME=PATH.npy]... [--output-dir DIR]\n"
    "              [--weights PATH] [--entry NAME] [--bench]\n"
    "              [--bench-iters N]\n"
    "       ds-run OUT.dsa --generate --prompt ID,ID,... [--prompt ...]\n"
    "              [--batch B] [--max-new-tokens N] [--max-seq-len L]\n"
    "              [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
    "              [--eos ID[,ID...]]... [--weights PATH] [--bench]\n"
    "              [--bench-json FILE]\n"
    "\n"
    "  --eos ID    end-of-sequence token id (repeatable, or comma-separated):\n"
    "              a sequence stops right after emitting one (it is printed\n"
    "              as its last token); generation ends when all have stopped\n";

/// Flags that take a value and only make sense with --generate.
static const char *const kGenerationFlags[] = {
    "--prompt", "--max-new-tokens", "--batch",      "--temperature",
    "--top-k",  "--top-p",          "--seed",       "--max-seq-len",
    "--eos",    "--bench-json"};

/// Parses a decimal integer in [minimum, maximum]; `what` names the flag.
static Expected<int64_t> parseInteger(const std::string &text,
                                      const std::string &what, int64_t minimum,
                                      int64_t maximum) {
  size_t start = text.size() > 0 && (text[0] == '-' || text[0] == '+');
  if (text.size() == start || text.size() - start > 19 ||
      !std::all_of(text.begin() + start, text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return makeError() << what << " expects an integer, got '" << text << "'";
  errno = 0;
  long long value = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE || value > maximum)
    return makeError() << what << " must be <= " << maximum << ", got "
                       << text;
  if (value < minimum)
    return makeError() << what << " must be >= " << minimum << ", got "
                       << text;
  return int64_t(value);
}

/// Parses a finite decimal number.
static Expected<double> parseNumber(const std::string &text,
                                    const std::string &what) {
  char *end = nullptr;
  errno = 0;
  double value = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE ||
      !std::isfinite(value) || std::isspace(static_cast<unsigned char>(text[0])))
    return makeError() << what << " expects a number, got '" << text << "'";
  return value;
}

/// Parses comma-separated token ids >= 0 (a --prompt or an --eos list);
/// `flag` names the flag in errors.
static Expected<std::vector<int64_t>> parseTokenIds(const std::string &text,
                                                   const std::string &flag) {
  std::vector<int64_t> tokens;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty() || item.size() > 19 ||
        !std::all_of(item.begin(), item.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      return makeError() << flag
                         << " expects comma-separated token ids >= 0, got '"
                         << text << "'";
    errno = 0;
    long long value = std::strtoll(item.c_str(), nullptr, 10);
    if (errno == ERANGE)
      return makeError() << flag << ": token id " << item << " is too large";
    tokens.push_back(value);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return tokens;
}

static Expected<int> parseIterations(const std::string &text) {
  if (text.empty() || text.size() > 7 ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return makeError() << "--bench-iters expects a positive integer, got '"
                       << text << "'";
  int value = std::stoi(text);
  if (value < 1 || value > kMaxBenchIterations)
    return makeError() << "--bench-iters must be between 1 and "
                       << kMaxBenchIterations << ", got " << value;
  return value;
}

static Expected<Options> parseOptions(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string flag = arg, value;
    bool hasValue = false;
    if (arg.rfind("--", 0) == 0) {
      size_t equals = arg.find('=');
      if (equals != std::string::npos) {
        flag = arg.substr(0, equals);
        value = arg.substr(equals + 1);
        hasValue = true;
      }
    }
    auto takeValue = [&]() -> Expected<std::string> {
      if (hasValue)
        return value;
      if (i + 1 >= argc)
        return makeError() << flag << " expects a value";
      return std::string(argv[++i]);
    };
    bool isGenerationFlag = false;
    for (const char *generation : kGenerationFlags)
      isGenerationFlag |= flag == generation;
    if (flag == "--help" || flag == "-h") {
      options.help = true;
    } else if (flag == "--bench") {
      options.bench = true;
    } else if (flag == "--generate") {
      if (hasValue)
        return makeError() << "--generate takes no value";
      options.generate = true;
    } else if (isGenerationFlag) {
      Expected<std::string> text = takeValue();
      if (text.failed())
        return text.status();
      options.generationFlags.push_back(flag);
      GenerationOptions &generation = options.generation;
      if (flag == "--prompt" || flag == "--eos") {
        Expected<std::vector<int64_t>> ids = parseTokenIds(*text, flag);
        if (ids.failed())
          return ids.status();
        if (flag == "--prompt")
          options.prompts.push_back(std::move(*ids));
        else
          generation.eosTokenIds.insert(generation.eosTokenIds.end(),
                                        ids->begin(), ids->end());
      } else if (flag == "--bench-json") {
        if (text->empty())
          return makeError() << "--bench-json expects a file name";
        options.benchJson = *text;
      } else if (flag == "--temperature" || flag == "--top-p") {
        Expected<double> value = parseNumber(*text, flag);
        if (value.failed())
          return value.status();
        if (flag == "--temperature") {
          if (*value < 0)
            return makeError() << "--temperature must be >= 0 (0: greedy), "
                                  "got "
                               << *text;
          generation.temperature = *value;
        } else {
          if (!(*value > 0 && *value <= 1))
            return makeError() << "--top-p must be in (0, 1], got " << *text;
          generation.topP = *value;
        }
      } else if (flag == "--seed") {
        if (text->empty() || text->size() > 20 ||
            !std::all_of(text->begin(), text->end(),
                         [](char c) { return c >= '0' && c <= '9'; }))
          return makeError() << "--seed expects an integer >= 0, got '"
                             << *text << "'";
        errno = 0;
        unsigned long long seed = std::strtoull(text->c_str(), nullptr, 10);
        if (errno == ERANGE)
          return makeError() << "--seed " << *text << " is too large";
        generation.seed = seed;
      } else {
        int64_t minimum = flag == "--top-k" ? 0 : 1;
        Expected<int64_t> value =
            parseInteger(*text, flag, minimum, int64_t(1) << 40);
        if (value.failed())
          return value.status();
        if (flag == "--max-new-tokens")
          generation.maxNewTokens = *value;
        else if (flag == "--batch")
          options.batch = *value;
        else if (flag == "--top-k")
          generation.topK = *value;
        else
          generation.maxSeqLen = *value;
      }
    } else if (flag == "--input" || flag == "--output-dir" ||
               flag == "--weights" || flag == "--entry" ||
               flag == "--bench-iters") {
      Expected<std::string> text = takeValue();
      if (text.failed())
        return text.status();
      if (flag == "--input") {
        size_t equals = text->find('=');
        if (equals == std::string::npos || equals == 0 ||
            equals + 1 == text->size())
          return makeError()
                 << "--input expects NAME=PATH.npy, got '" << *text << "'";
        options.inputs.emplace_back(text->substr(0, equals),
                                    text->substr(equals + 1));
      } else if (flag == "--output-dir") {
        options.outputDir = *text;
      } else if (flag == "--weights") {
        options.weightsPath = *text;
      } else if (flag == "--entry") {
        options.entry = *text;
      } else {
        Expected<int> iterations = parseIterations(*text);
        if (iterations.failed())
          return iterations.status();
        options.benchIterations = *iterations;
        options.benchIterationsGiven = true;
      }
    } else if (arg.size() > 1 && arg[0] == '-') {
      return makeError() << "unknown option '" << arg << "'";
    } else if (options.artifactPath.empty()) {
      options.artifactPath = arg;
    } else {
      return makeError() << "unexpected argument '" << arg
                         << "' (only one artifact may be given)";
    }
  }
  if (options.help)
    return options;
  if (options.artifactPath.empty())
    return makeError() << "no artifact given (usage: ds-run OUT.dsa "
                          "--input NAME=PATH.npy ...)";
  if (!options.generate) {
    if (!options.generationFlags.empty())
      return makeError() << options.generationFlags.front()
                         << " needs --generate";
    return options;
  }
  // Generation mode.
  if (!options.inputs.empty())
    return makeError() << "--input cannot be combined with --generate (the "
                          "prompts are the inputs)";
  if (!options.outputDir.empty())
    return makeError() << "--output-dir cannot be combined with --generate";
  if (options.entry != "forward")
    return makeError() << "--entry cannot be combined with --generate";
  if (options.benchIterationsGiven)
    return makeError() << "--bench-iters cannot be combined with --generate "
                          "(--bench reports every decode step)";
  if (!options.benchJson.empty() && !options.bench)
    return makeError() << "--bench-json needs --bench";
  if (options.prompts.empty())
    return makeError() << "--generate needs at least one --prompt";
  if (options.batch > 0) {
    if (options.prompts.size() > 1)
      return makeError() << "--batch repeats a single --prompt; got "
                         << options.prompts.size() << " prompts";
    options.prompts.assign(size_t(options.batch), options.prompts.front());
  }
  return options;
}

/// Maps an output name to a file name that stays inside the output folder:
/// characters other than [A-Za-z0-9._-] become '_', and a leading '.' is
/// prefixed with '_'.
static std::string outputFileName(const std::string &name) {
  std::string file;
  for (char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    file += keep ? c : '_';
  }
  if (file.empty() || file[0] == '.')
    file = "_" + file;
  return file + ".npy";
}

static std::string summarize(const std::string &name, const Tensor &tensor) {
  std::string line =
      name + ": " + dtypeName(tensor.dtype) + formatShape(tensor.shape);
  size_t elemSize = elementSize(tensor.dtype);
  size_t count = elemSize ? tensor.data.size() / elemSize : 0;
  if (count == 0)
    return line + " (empty)";
  double minimum = INFINITY, maximum = -INFINITY, sum = 0;
  for (size_t i = 0; i < count; ++i) {
    double value = elementToDouble(tensor.dtype, &tensor.data[i * elemSize]);
    minimum = std::fmin(minimum, value);
    maximum = std::fmax(maximum, value);
    sum += value;
  }
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), " min=%.6g max=%.6g mean=%.6g", minimum,
                maximum, sum / double(count));
  return line + buffer;
}

static Status writeOutputs(const Options &options, const EntryPointSpec &entry,
                           const std::vector<Tensor> &outputs) {
  std::error_code error;
  std::filesystem::create_directories(options.outputDir, error);
  if (error)
    return makeError() << options.outputDir
                       << ": cannot create the output folder: "
                       << error.message();
  std::set<std::string> files;
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string file = outputFileName(entry.results[i].name);
    if (!files.insert(file).second)
      return makeError() << "outputs '" << entry.results[i].name
                         << "' and another output map to the same file '"
                         << file << "'";
    std::string path = (std::filesystem::path(options.outputDir) / file);
    if (Status status = writeNpyFile(path, outputs[i]); status.failed())
      return status;
  }
  return Status::success();
}

static double median(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

static double percentile90(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  return times[std::min(n - 1, size_t(std::ceil(0.9 * double(n))) - 1)];
}

static Status runGeneration(const Options &options, Session &session) {
  if (Status status =
          session.checkGeneration(options.prompts, options.generation);
      status.failed())
    return status;
  GenerationResult result;
  if (Status status =
          session.generate(options.prompts, options.generation, &result);
      status.failed())
    return status;
  std::string text;
  for (const std::vector<int64_t> &tokens : result.tokens) {
    for (size_t i = 0; i < tokens.size(); ++i)
      text += (i ? " " : "") + std::to_string(tokens[i]);
    text += "\n";
  }
  std::cout << text;
  std::cout.flush();
  if (!std::cout)
    return makeError() << "cannot write to stdout";

  size_t batch = options.prompts.size();
  double decodeTotal = 0;
  for (double ms : result.decodeMs)
    decodeTotal += ms;
  // Tokens the decode steps produced (every row's but the first; rows that
  // stopped on an --eos id produce none after it).
  size_t decodeTokens = 0;
  for (const std::vector<int64_t> &tokens : result.tokens)
    decodeTokens += tokens.empty() ? 0 : tokens.size() - 1;
  char buffer[512];
  if (result.decodeMs.empty())
    std::snprintf(buffer, sizeof(buffer),
                  "generate: batch %zu, %lld new tokens: time to first "
                  "token %.3f ms, no decode steps\n",
                  batch, (long long)options.generation.maxNewTokens,
                  result.prefillMs);
  else
    std::snprintf(buffer, sizeof(buffer),
                  "generate: batch %zu, %lld new tokens: time to first "
                  "token %.3f ms, decode %.1f tokens/s (%zu steps, %.3f "
                  "ms/step)\n",
                  batch, (long long)options.generation.maxNewTokens,
                  result.prefillMs,
                  decodeTotal > 0 ? double(decodeTokens) * 1000.0 / decodeTotal
                                  : 0.0,
                  result.decodeMs.size(),
                  decodeTotal / double(result.decodeMs.size()));
  std::cerr << buffer;
  if (!options.bench)
    return Status::success();
  if (!result.decodeMs.empty()) {
    std::snprintf(buffer, sizeof(buffer),
                  "bench: decode: %zu steps, median %.3f ms, p90 %.3f ms\n",
                  result.decodeMs.size(), median(result.decodeMs),
                  percentile90(result.decodeMs));
    std::cerr << buffer;
  }
  if (options.benchJson.empty())
    return Status::success();
  auto number = [](double value) {
    char text[64];
    std::snprintf(text, sizeof(text), "%.6g", value);
    return std::string(text);
  };
  std::string json = "{\"ttft_ms\": " + number(result.prefillMs) +
                     ", \"decode_ms\": [";
  for (size_t i = 0; i < result.decodeMs.size(); ++i)
    json += (i ? ", " : "") + number(result.decodeMs[i]);
  json += "], \"positions\": [";
  for (size_t i = 0; i < result.decodePositions.size(); ++i)
    json += (i ? ", " : "") + std::to_string(result.decodePositions[i]);
  json += "], \"batch\": " + std::to_string(batch) + "}\n";
  std::ofstream file(options.benchJson, std::ios::binary | std::ios::trunc);
  file << json;
  file.close();
  if (!file)
    return makeError() << options.benchJson << ": cannot write the bench JSON";
  return Status::success();
}

static Status runTool(const Options &options) {
  Expected<std::unique_ptr<Session>> session =
      Session::create(options.artifactPath, options.weightsPath);
  if (session.failed())
    return session.status();
  if (options.generate)
    return runGeneration(options, **session);
  const EntryPointSpec *entry =
      (*session)->artifact().findEntryPoint(options.entry);
  if (!entry) {
    std::string names;
    for (const EntryPointSpec &candidate : (*session)->artifact().entryPoints)
      names += (names.empty() ? "'" : ", '") + candidate.name + "'";
    return makeError() << options.artifactPath << ": no entry point '"
                       << options.entry << "' (the artifact has "
                       << (names.empty() ? "none" : names) << ")";
  }

  std::map<std::string, Tensor> tensors;
  for (const auto &[name, path] : options.inputs) {
    if (tensors.count(name))
      return makeError() << "input '" << name << "' given twice";
    Expected<Tensor> tensor = readNpyFile(path);
    if (tensor.failed())
      return tensor.status();
    tensors.emplace(name, std::move(*tensor));
  }
  std::map<std::string, TensorView> views;
  for (const auto &[name, tensor] : tensors)
    views[name] = tensor.view();

  Expected<std::vector<Tensor>> outputs = (*session)->run(entry->name, views);
  if (outputs.failed())
    return outputs.status();
  if (options.bench) {
    std::vector<double> times;
    for (int i = 0; i < options.benchIterations; ++i) {
      auto start = std::chrono::steady_clock::now();
      outputs = (*session)->run(entry->name, views);
      auto stop = std::chrono::steady_clock::now();
      if (outputs.failed())
        return outputs.status();
      times.push_back(
          std::chrono::duration<double, std::milli>(stop - start).count());
    }
    char buffer[256];
    std::snprintf(buffer, sizeof(buffer),
                  "bench: %s: %zu iterations, median %.3f ms, p90 %.3f ms\n",
                  entry->name.c_str(), times.size(), median(times),
                  percentile90(times));
    std::cerr << buffer;
  }

  if (!options.outputDir.empty())
    return writeOutputs(options, *entry, *outputs);
  for (size_t i = 0; i < outputs->size(); ++i)
    std::cout << summarize(entry->results[i].name, (*outputs)[i]) << "\n";
  std::cout.flush();
  if (!std::cout)
    return makeError() << "cannot write to stdout";
  return Status::success();
}

static int reportError(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::cerr << "error: " << message << std::endl;
  return 1;
}

int main(int argc, char **argv) {
  try {
    Expected<Options> options = parseOptions(argc, argv);
    if (options.failed())
      return reportError(options.message());
    if (options->help) {
      std::cout << kUsage;
      return 0;
    }
    if (Status status = runTool(*options); status.failed())
      return reportError(status.message());
    return 0;
  } catch (const std::bad_alloc &) {
    return reportError("out of memory");
  } catch (const std::exception &e) {
    return reportError(std::string("internal error: ") + e.what());
  } catch (...) {
    return reportError("internal error: unknown exception");
  }
}
