//===- ds-compile.cpp - ONNX model -> ds artifact -------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// `ds-compile MODEL.onnx -o OUT.dsa` (DESIGN.md §1). Every driver flag
// lives in `CompileOptions`; the work is in Compiler.cpp.
//
//===----------------------------------------------------------------------===//

#include "Compiler.h"

#include "ds/Target/ONNX/Import.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::OptionCategory category("ds-compile options");

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.onnx>"),
                               cl::cat(category));
cl::opt<bool> listSupportedOps(
    "list-supported-ops",
    cl::desc("print the ONNX operators the importer supports and exit"),
    cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("output artifact (.dsa)"),
                                cl::value_desc("path"), cl::cat(category));
cl::opt<std::string> target("target", cl::desc("cpu or cuda"), cl::init("cpu"),
                            cl::cat(category));
cl::opt<std::string> cudaArch("cuda-arch", cl::desc("sm_80, sm_90 or sm_90a"),
                              cl::init("sm_90"), cl::cat(category));
cl::opt<std::string> precision("precision", cl::desc("fp32, fp16 or bf16"),
                               cl::init("fp32"), cl::cat(category));
cl::list<std::string> shapes("shape",
                             cl::desc("pin an input's shape: NAME=DxDx..."),
                             cl::value_desc("NAME=DxD"), cl::cat(category));
cl::opt<std::string>
    compileTo("compile-to",
              cl::desc("stop after a phase and print its IR: import, "
                       "graph-opt, fusion, kv-cache, lower, bufferize, llvm"),
              cl::cat(category));
cl::opt<bool> printStats("print-stats",
                         cl::desc("print one JSON object of compile "
                                  "statistics on stdout"),
                         cl::cat(category));
cl::opt<bool> symbolicInputs("symbolic-inputs",
                             cl::desc("make every input dimension dynamic"),
                             cl::cat(category));
cl::opt<std::string> cpu("cpu",
                         cl::desc("LLVM CPU for CPU code: generic (runs "
                                  "anywhere) or native"),
                         cl::init("generic"), cl::cat(category));
cl::opt<bool> fusionRemarks(
    "fusion-remarks",
    cl::desc("report, on stderr, every fusion candidate that did not fuse "
             "and why (op, location, reason)"),
    cl::cat(category));
cl::opt<std::string> kvCache(
    "kv-cache",
    cl::desc("derive prefill/decode entry points over a KV cache: auto "
             "(decoders only; the reason otherwise is in the stats), on "
             "(fail when the model cannot be cached), off"),
    cl::init("auto"), cl::cat(category));
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "ds compiler: ONNX -> .dsa\n");

  if (listSupportedOps) {
    for (StringRef op : mlir::ds::getSupportedONNXOps())
      outs() << op << "\n";
    return 0;
  }
  if (inputPath.empty()) {
    errs() << "error: no input model (usage: ds-compile MODEL.onnx -o "
              "OUT.dsa)\n";
    return 1;
  }

  ds::CompileOptions options;
  options.inputPath = inputPath;
  options.outputPath = outputPath;
  options.target = target;
  options.cudaArch = cudaArch;
  options.precision = precision;
  options.shapes.assign(shapes.begin(), shapes.end());
  options.compileTo = compileTo;
  options.printStats = printStats;
  options.symbolicInputs = symbolicInputs;
  options.cpu = cpu;
  options.fusionRemarks = fusionRemarks;
  options.kvCache = kvCache;
  return ds::runCompiler(options) ? 0 : 1;
}
