//===- Translation.cpp - the import-onnx translation ----------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Target/ONNX/ImportTranslation.h"

#include "ImporterImpl.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::ds;

namespace {
struct TranslationOptions {
  llvm::cl::list<std::string> shapes{
      "import-shape",
      llvm::cl::desc("Pin an input's shape: NAME=DxDx... (repeatable)")};
  llvm::cl::opt<bool> symbolicInputs{
      "import-symbolic-inputs",
      llvm::cl::desc("Make every input dimension dynamic")};
  llvm::cl::opt<int64_t> maxInline{
      "import-max-inline-constant-elements",
      llvm::cl::desc("Largest initializer inlined as a constant"),
      llvm::cl::init(ImportOptions().maxInlineConstantElements)};
  llvm::cl::opt<int64_t> maxFold{
      "import-max-fold-elements",
      llvm::cl::desc("Largest result folded at import"),
      llvm::cl::init(ImportOptions().maxFoldElements)};
  llvm::cl::opt<bool> dumpWeights{
      "import-dump-weights",
      llvm::cl::desc("Print each weight's metadata to stderr (for tests)")};
  llvm::cl::opt<int64_t> maxElements{
      "import-max-tensor-elements",
      llvm::cl::desc("Largest tensor accepted (elements)"),
      llvm::cl::init(ImportOptions().maxTensorElements)};
};
} // namespace

static TranslationOptions &translationOptions() {
  static TranslationOptions options;
  return options;
}

/// Parses `NAME=DxDx...` (`NAME=` for a scalar).
static LogicalResult parseShape(StringRef spec, ImportOptions &options,
                                Location loc) {
  auto [name, dims] = spec.rsplit('=');
  if (name.empty() || !spec.contains('='))
    return emitError(loc) << "--import-shape expects NAME=DxD..., got '" << spec
                          << "'";
  SmallVector<int64_t> shape;
  if (!dims.empty()) {
    SmallVector<StringRef> parts;
    dims.split(parts, 'x');
    for (StringRef p : parts) {
      int64_t d;
      if (p.getAsInteger(10, d) || d < 0)
        return emitError(loc) << "--import-shape " << name
                              << ": invalid dimension '" << p << "'";
      shape.push_back(d);
    }
  }
  options.pinnedShapes[name] = shape;
  return success();
}

/// One line per weight: `weight N 'name' dtype D [shape] ...`.
static void dumpWeights(ArrayRef<WeightInfo> weights, llvm::raw_ostream &os) {
  for (auto [i, w] : llvm::enumerate(weights)) {
    os << "weight " << i << " '" << w.name << "' dtype " << w.dtype << " [";
    llvm::interleaveComma(w.shape, os);
    os << "] ";
    if (w.external)
      os << "external '" << llvm::sys::path::filename(w.file) << "' offset "
         << w.offset << " size " << w.size << "\n";
    else
      os << "embedded " << w.data.size() << " bytes "
         << llvm::toHex(w.data.substr(0, 16), /*LowerCase=*/true) << "\n";
  }
}

void mlir::ds::registerImportONNXTranslation() {
  (void)translationOptions();
  TranslateToMLIRRegistration registration(
      "import-onnx", "import an ONNX model (protobuf) into ds",
      [](llvm::SourceMgr &sourceMgr,
         MLIRContext *ctx) -> OwningOpRef<Operation *> {
        const llvm::MemoryBuffer *buffer =
            sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
        StringRef path = buffer->getBufferIdentifier();
        TranslationOptions &cl = translationOptions();
        ImportOptions options;
        Location loc = FileLineColLoc::get(ctx, path, 0, 0);
        for (const std::string &spec : cl.shapes)
          if (failed(parseShape(spec, options, loc)))
            return nullptr;
        options.symbolicInputs = cl.symbolicInputs;
        options.maxInlineConstantElements = cl.maxInline;
        options.maxFoldElements = cl.maxFold;
        options.maxTensorElements = cl.maxElements;
        FailureOr<ImportedModel> model =
            importer::importONNXBytes(buffer->getBuffer(), path, *ctx, options);
        if (failed(model))
          return nullptr;
        if (cl.dumpWeights)
          dumpWeights(model->weights, llvm::errs());
        return OwningOpRef<Operation *>(model->module.release());
      },
      registerImportDialects);
}
