//===- ds-run.cpp - Run a compiled ds artifact ----------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// ds-run OUT.dsa --input NAME=PATH.npy ... [--output-dir DIR] [--weights PATH]
//        [--entry NAME] [--bench] [--bench-iters N]
//
// Runs one entry point (default `forward`) on .npy inputs. With --output-dir,
// writes DIR/<output name>.npy for every output; otherwise prints one line
// per output: `name: dtype[shape] min=.. max=.. mean=..`. --bench runs the
// entry point --bench-iters times (default 20) and reports the median and
// p90 wall time per run on stderr. Exit status 0 on success; otherwise one
// line `error: ...` on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/npy.h"
#include "ds/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
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
  bool help = false;
};
} // namespace

static constexpr int kMaxBenchIterations = 1000000;

static const char kUsage[] =
    "usage: ds-run OUT.dsa [--input NAME=PATH.npy]... [--output-dir DIR]\n"
    "              [--weights PATH] [--entry NAME] [--bench]\n"
    "              [--bench-iters N]\n";

/// Flags of the generation mode (DESIGN.md section 1), not implemented yet.
static const char *const kGenerationFlags[] = {
    "--generate", "--prompt",      "--max-new-tokens",
    "--batch",    "--temperature", "--top-k",
    "--top-p",    "--seed",        "--max-seq-len"};

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
    for (const char *generation : kGenerationFlags)
      if (flag == generation)
        return makeError() << flag << " is not supported yet (generation mode)";
    auto takeValue = [&]() -> Expected<std::string> {
      if (hasValue)
        return value;
      if (i + 1 >= argc)
        return makeError() << flag << " expects a value";
      return std::string(argv[++i]);
    };
    if (flag == "--help" || flag == "-h") {
      options.help = true;
    } else if (flag == "--bench") {
      options.bench = true;
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
  if (!options.help && options.artifactPath.empty())
    return makeError() << "no artifact given (usage: ds-run OUT.dsa "
                          "--input NAME=PATH.npy ...)";
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

static Status runTool(const Options &options) {
  Expected<std::unique_ptr<Session>> session =
      Session::create(options.artifactPath, options.weightsPath);
  if (session.failed())
    return session.status();
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
    std::sort(times.begin(), times.end());
    size_t n = times.size();
    double median =
        n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    double p90 = times[std::min(n - 1, size_t(std::ceil(0.9 * double(n))) - 1)];
    char buffer[256];
    std::snprintf(buffer, sizeof(buffer),
                  "bench: %s: %zu iterations, median %.3f ms, p90 %.3f ms\n",
                  entry->name.c_str(), n, median, p90);
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
