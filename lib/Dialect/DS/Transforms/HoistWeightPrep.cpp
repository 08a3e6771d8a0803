//===- HoistWeightPrep.cpp - weight-only computations into @prepare -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Weights are memory-mapped read-only and the same for every call, so
// anything computed from weights and constants alone (the concatenated
// weights of merged projections, transposes, packing) needs computing
// once, at load. This pass moves such computations of every public
// function into one `func.func @prepare(weights...) -> (derived...)` and
// passes their values to the functions as arguments marked
// `{ds.derived = <index of @prepare's result>}`.
//
// A value is hoisted when it is weight-derived (computed by side-effect
// free ops, without regions that capture values from above, from
// `ds.weight` arguments and constants only), is used by something that is
// not, has a static shape, and is not trivial: weights, constants,
// reshapes of those and broadcasts of splat constants stay where they are,
// since they fold or are views.
//
// The same computation in several functions (@forward, @prefill and
// @decode computing one concat of the same weights) maps to one result of
// @prepare: computations are keyed structurally, with weights keyed by
// their `ds.weight` name and type, ops by name, attributes, properties and
// result types (and, for ops with regions, their printed regions).
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSHOISTWEIGHTPREP
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr StringLiteral kPrepare = "prepare";

namespace {

/// Weight-derivation facts about the values of one function.
class FuncAnalysis {
public:
  explicit FuncAnalysis(func::FuncOp func);

  /// Computed from `ds.weight` arguments and constants only.
  bool isDerived(Value v);
  /// Derived and cheap to keep in place: weights, constants, reshapes of
  /// those, broadcasts of splats.
  bool isTrivial(Value v);
  /// A structural key of a derived value, equal across functions for the
  /// same computation on the same named weights.
  const std::string &key(Value v);

private:
  func::FuncOp func;
  DenseMap<Value, bool> derived, trivial;
  DenseMap<Value, std::string> keys;
};

struct HoistWeightPrepPass
    : ds::impl::DSHoistWeightPrepBase<HoistWeightPrepPass> {
  using Base::Base;
  void runOnOperation() override;
};

} // namespace

static bool isWeightArg(Value v) {
  return !fusion::getWeightName(v).empty();
}

FuncAnalysis::FuncAnalysis(func::FuncOp func) : func(func) {
  // One forward pass over the body: operands are classified before their
  // users (no recursion through long activation chains).
  Block &body = func.getBody().front();
  for (BlockArgument arg : body.getArguments())
    derived[arg] = isWeightArg(arg);
  for (Operation &op : body) {
    bool result = isMemoryEffectFree(&op) && op.getNumSuccessors() == 0 &&
                  op.getNumResults() > 0;
    if (result && op.getNumRegions() > 0) {
      llvm::SetVector<Value> captured;
      for (Region &r : op.getRegions())
        getUsedValuesDefinedAbove(r, captured);
      result = captured.empty();
    }
    if (result)
      result = llvm::all_of(op.getOperands(),
                            [&](Value operand) { return isDerived(operand); });
    for (Value r : op.getResults())
      derived[r] = result;
  }
}

bool FuncAnalysis::isDerived(Value v) { return derived.lookup(v); }

bool FuncAnalysis::isTrivial(Value v) {
  auto it = trivial.find(v);
  if (it != trivial.end())
    return it->second;
  bool result = false;
  if (isa<BlockArgument>(v)) {
    result = true;
  } else {
    Operation *op = v.getDefiningOp();
    if (op->getNumOperands() == 0)
      result = true;
    else if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp,
                 tensor::ReshapeOp, tensor::CastOp>(op))
      result = isTrivial(op->getOperand(0));
    else if (isa<BroadcastOp, tensor::SplatOp>(op))
      result = fusion::getSplatFloat(v) || fusion::getSplatInt(v);
  }
  trivial[v] = result;
  return result;
}

const std::string &FuncAnalysis::key(Value v) {
  auto it = keys.find(v);
  if (it != keys.end())
    return it->second;
  std::string s;
  llvm::raw_string_ostream os(s);
  if (isa<BlockArgument>(v)) {
    os << "w(" << fusion::getWeightName(v) << ":"
       << v.getType().getAsOpaquePointer() << ")";
  } else {
    Operation *op = v.getDefiningOp();
    // Attributes and types are uniqued in the context: their addresses
    // identify them.
    os << op->getName().getStringRef() << "#"
       << cast<OpResult>(v).getResultNumber() << "{"
       << op->getRawDictionaryAttrs().getAsOpaquePointer() << ","
       << op->getPropertiesAsAttribute().getAsOpaquePointer();
    for (Type t : op->getResultTypes())
      os << "," << t.getAsOpaquePointer();
    if (op->getNumRegions() > 0) {
      // Bodies (linalg.generic) matter; print them without the op's
      // operands, which the operand keys below cover.
      OpPrintingFlags flags;
      flags.printGenericOpForm().useLocalScope();
      for (Region &r : op->getRegions())
        for (Block &block : r)
          for (Operation &inner : block) {
            os << ";";
            inner.print(os, flags);
          }
    }
    os << "}(";
    for (Value operand : op->getOperands())
      os << key(operand) << ",";
    os << ")";
  }
  return keys[v] = std::move(s);
}

/// Clones the computation of `v` (from `analysis`'s function) into
/// @prepare at `b`, reusing values already built there by key and mapping
/// weights to @prepare's arguments (added on first use).
static Value cloneInto(Value v, FuncAnalysis &analysis, OpBuilder &b,
                       func::FuncOp prepare,
                       llvm::StringMap<Value> &built) {
  const std::string &k = analysis.key(v);
  auto it = built.find(k);
  if (it != built.end())
    return it->second;
  Value result;
  if (isa<BlockArgument>(v)) {
    Block &entry = prepare.getBody().front();
    unsigned index = entry.getNumArguments();
    (void)prepare.insertArgument(
        index, v.getType(),
        b.getDictionaryAttr(b.getNamedAttr(
            "ds.weight", b.getStringAttr(fusion::getWeightName(v)))),
        v.getLoc());
    result = entry.getArgument(index);
  } else {
    Operation *op = v.getDefiningOp();
    IRMapping mapping;
    for (Value operand : op->getOperands())
      mapping.map(operand, cloneInto(operand, analysis, b, prepare, built));
    Operation *clone = b.clone(*op, mapping);
    // Every result of the clone is keyed, so a sibling result reuses it.
    for (auto [orig, copy] : llvm::zip(op->getResults(), clone->getResults()))
      built[analysis.key(orig)] = copy;
    result = clone->getResult(cast<OpResult>(v).getResultNumber());
  }
  built[k] = result;
  return result;
}

/// Erases side-effect free ops without uses, last first, until none is left.
static void eraseDeadOps(func::FuncOp func) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Block &block : func.getBody())
      for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
        if (op.use_empty() && !op.hasTrait<OpTrait::IsTerminator>() &&
            isMemoryEffectFree(&op)) {
          op.erase();
          changed = true;
        }
  }
}

void HoistWeightPrepPass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTable symbols(module);
  if (symbols.lookup(kPrepare)) {
    module.emitError() << "ds-hoist-weight-prep: the module already has a "
                          "symbol '@"
                       << kPrepare << "'";
    return signalPassFailure();
  }

  SmallVector<func::FuncOp> funcs;
  for (auto func : module.getOps<func::FuncOp>())
    if (func.isPublic() && !func.isExternal())
      funcs.push_back(func);

  // Per function: the values to replace, by key; keys in first-seen order
  // give @prepare's results.
  bool any = false;
  SmallVector<std::unique_ptr<FuncAnalysis>> analyses;
  SmallVector<SmallVector<Value>> hoisted(funcs.size());
  for (auto [i, func] : llvm::enumerate(funcs)) {
    analyses.push_back(std::make_unique<FuncAnalysis>(func));
    FuncAnalysis &a = *analyses.back();
    for (Operation &bodyOp : func.getBody().front()) {
      Operation *op = &bodyOp;
      for (Value r : op->getResults()) {
        auto type = dyn_cast<RankedTensorType>(r.getType());
        if (!type || !type.hasStaticShape() || !a.isDerived(r) ||
            a.isTrivial(r))
          continue;
        // Only where the weight-only part ends: some user is not derived.
        bool frontier = llvm::any_of(r.getUsers(), [&](Operation *user) {
          return user->getNumResults() == 0 ||
                 user->getParentOp() != func.getOperation() ||
                 llvm::any_of(user->getResults(),
                              [&](Value u) { return !a.isDerived(u); });
        });
        if (!frontier)
          continue;
        hoisted[i].push_back(r);
        any = true;
      }
    }
  }
  if (!any)
    return;

  // Build @prepare.
  OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
  Location loc = module.getLoc();
  auto prepare = func::FuncOp::create(mb, loc, kPrepare,
                                      mb.getFunctionType({}, {}));
  Block *entry = prepare.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  llvm::StringMap<Value> built;
  llvm::StringMap<int64_t> resultIndex;
  SmallVector<Value> returned;
  // Each key's first instance is in some function; find its analysis.
  for (auto [i, func] : llvm::enumerate(funcs))
    for (Value v : hoisted[i]) {
      const std::string &k = analyses[i]->key(v);
      if (resultIndex.count(k))
        continue;
      resultIndex[k] = returned.size();
      returned.push_back(cloneInto(v, *analyses[i], b, prepare, built));
    }
  func::ReturnOp::create(b, loc, returned);
  prepare.setFunctionType(
      b.getFunctionType(entry->getArgumentTypes(), ValueRange(returned).getTypes()));

  // Replace the hoisted values in each function by derived arguments.
  for (auto [i, func] : llvm::enumerate(funcs)) {
    if (hoisted[i].empty())
      continue;
    Block &body = func.getBody().front();
    // Weight arguments in use before, to drop those hoisting leaves unused.
    // (Block arguments keep their identity when others are inserted.)
    llvm::SmallPtrSet<void *, 8> usedBefore;
    for (BlockArgument arg : body.getArguments())
      if (isWeightArg(arg) && !arg.use_empty())
        usedBefore.insert(arg.getAsOpaquePointer());
    // New arguments go after the last weight or derived argument, keeping
    // weights ahead of graph inputs.
    unsigned insertAt = 0;
    for (BlockArgument arg : body.getArguments())
      if (fusion::isWeight(arg))
        insertAt = arg.getArgNumber() + 1;
    llvm::StringMap<Value> argByKey;
    for (Value v : hoisted[i]) {
      const std::string &k = analyses[i]->key(v);
      Value arg = argByKey.lookup(k);
      if (!arg) {
        OpBuilder ab(func.getContext());
        (void)func.insertArgument(
            insertAt, v.getType(),
            ab.getDictionaryAttr(ab.getNamedAttr(
                "ds.derived", ab.getI64IntegerAttr(resultIndex[k]))),
            v.getLoc());
        arg = body.getArgument(insertAt);
        ++insertAt;
        argByKey[k] = arg;
      }
      v.replaceAllUsesWith(arg);
    }
    eraseDeadOps(func);
    // Entry points are found by name and their arguments by attribute; a
    // function something calls keeps its signature.
    if (!SymbolTable::symbolKnownUseEmpty(func, module))
      continue;
    llvm::BitVector drop(body.getNumArguments());
    for (BlockArgument arg : body.getArguments())
      drop[arg.getArgNumber()] =
          usedBefore.contains(arg.getAsOpaquePointer()) && arg.use_empty();
    if (drop.any())
      (void)func.eraseArguments(drop);
  }
}
