//===- FuseRope.cpp - fuse rotary position embeddings into ds.rope ---------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Anchors on `tensor.concat` along the last dimension of a negated slice and
// a slice (the exporters' rotate_half) and matches
//
//   x * cos + concat(-x[..., h:2h], x[..., :h]) * sin      (2h == D)
//
// ds.rope wants tables of width h, the exporters build width-2h tables as
// concat(freqs, freqs); each table is traced back through reshapes,
// broadcasts and elementwise ops to such a concat (or to a constant / a
// gather of a constant whose halves are equal) before its first half is
// taken. When the tables are HF's computation from positions,
//
//   concat(t, t), t = transpose(matmul(inv_freq [1,H,1],
//                                      sitofp(positions [P,1,S])))
//
// they become `ds.rope_table(positions [P,S], inv_freq [H])` so that the
// KV-cache rewrite can offset the positions.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSEROPE
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr llvm::StringLiteral kPass = "ds-fuse-rope";

namespace {

Value otherOperand(Operation *op, Value known) {
  if (!op || op->getNumOperands() != 2)
    return {};
  if (op->getOperand(0) == known)
    return op->getOperand(1);
  if (op->getOperand(1) == known)
    return op->getOperand(0);
  return {};
}

/// For a unit-stride slice of `source` along the last dimension with zero
/// offsets elsewhere, the static offset and size of the last dimension.
std::optional<std::pair<int64_t, int64_t>>
lastDimSlice(tensor::ExtractSliceOp slice) {
  if (!slice || !slice.hasUnitStride())
    return std::nullopt;
  int64_t rank = slice.getSourceType().getRank();
  if (slice.getResultType().getRank() != rank || rank < 1)
    return std::nullopt;
  SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
  for (int64_t i = 0; i + 1 < rank; ++i)
    if (getConstantIntValue(offsets[i]) != std::optional<int64_t>(0))
      return std::nullopt;
  std::optional<int64_t> off = getConstantIntValue(offsets.back());
  std::optional<int64_t> size = getConstantIntValue(slice.getMixedSizes().back());
  if (!off || !size)
    return std::nullopt;
  return std::make_pair(*off, *size);
}

/// True when every row of `attr` (split on its last dimension) has equal
/// halves.
bool hasEqualHalves(DenseElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  if (type.getRank() < 1 || !isa<FloatType>(type.getElementType()))
    return false;
  int64_t d = type.getShape().back();
  if (d % 2 != 0)
    return false;
  if (attr.isSplat())
    return true;
  SmallVector<APFloat> values(attr.getValues<APFloat>());
  for (size_t row = 0; row < values.size(); row += d)
    for (int64_t i = 0; i < d / 2; ++i)
      if (!values[row + i].bitwiseIsEqual(values[row + i + d / 2]))
        return false;
  return true;
}

bool isConstantWithEqualHalves(Value v) {
  DenseElementsAttr attr;
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    attr = dyn_cast<DenseElementsAttr>(cst.getValue());
  return attr && hasEqualHalves(attr);
}

/// What a table traced to: the ops between the table and the proof that
/// its halves are equal, and the duplicated operand `t` of concat(t, t)
/// when that is the proof.
struct TableTrace {
  SmallVector<Operation *> chain;
  Value half;
};

/// Walks back from table `v` through ops that keep the last dimension
/// (reshapes that leave it alone, broadcasts, elementwise ops with
/// constants) to a proof that the two halves of the last dimension are
/// equal. Fails with the reason.
FailureOr<TableTrace> traceTable(Value v, std::string &why) {
  TableTrace trace;
  for (int steps = 0; steps < 16; ++steps) {
    Operation *op = v.getDefiningOp();
    if (!op)
      break;
    auto type = cast<RankedTensorType>(v.getType());
    int64_t rank = type.getRank();
    if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
      if (concat.getDim() == static_cast<uint64_t>(rank - 1) &&
          concat.getInputs().size() == 2 &&
          concat.getInputs()[0] == concat.getInputs()[1]) {
        trace.half = concat.getInputs()[0];
        return trace;
      }
      why = "the cos/sin table is a concatenation of different halves";
      return failure();
    }
    if (isConstantWithEqualHalves(v))
      return trace;
    if (auto gather = dyn_cast<GatherOp>(op)) {
      int64_t dataRank = gather.getData().getType().getRank();
      int64_t axis = gather.getAxis() < 0 ? gather.getAxis() + dataRank
                                          : gather.getAxis();
      if (axis != dataRank - 1 &&
          isConstantWithEqualHalves(fusion::stripBroadcasts(gather.getData())))
        return trace;
      why = "the gathered cos/sin cache is not a constant with equal halves";
      return failure();
    }
    trace.chain.push_back(op);
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
      if (expand.getReassociationIndices().back().size() != 1)
        break;
      v = expand.getSrc();
    } else if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
      if (collapse.getReassociationIndices().back().size() != 1)
        break;
      v = collapse.getSrc();
    } else if (auto b = dyn_cast<BroadcastOp>(op)) {
      auto in = cast<RankedTensorType>(b.getInput().getType());
      if (in.getRank() < 1 || in.getShape().back() != type.getShape().back())
        break;
      v = b.getInput();
    } else if (isa<math::CosOp, math::SinOp, arith::NegFOp, arith::ExtFOp,
                   arith::TruncFOp>(op)) {
      v = op->getOperand(0);
    } else if (isa<arith::MulFOp, arith::DivFOp>(op) &&
               fusion::getSplatFloat(op->getOperand(1))) {
      v = op->getOperand(0);
    } else if (isa<arith::MulFOp>(op) &&
               fusion::getSplatFloat(op->getOperand(0))) {
      v = op->getOperand(1);
    } else {
      break;
    }
  }
  why = "cannot prove the cos/sin table is concat(t, t) (equal halves)";
  return failure();
}

/// HF's angles: t = transpose(matmul(inv_freq, sitofp(pos)), [0, 2, 1]).
struct HFAngles {
  Value positions; // integer [P, 1, S]
  Value invFreq;   // [.., H, 1]
};

std::optional<HFAngles> matchHFAngles(Value t) {
  auto transpose = t.getDefiningOp<linalg::TransposeOp>();
  if (!transpose || transpose.getPermutation() != ArrayRef<int64_t>{0, 2, 1})
    return std::nullopt;
  auto matmul = transpose.getInput().getDefiningOp<MatMulOp>();
  if (!matmul)
    return std::nullopt;
  Value pos = matmul.getRhs();
  Operation *cvt = pos.getDefiningOp();
  if (!isa_and_present<arith::SIToFPOp, arith::UIToFPOp>(cvt))
    return std::nullopt;
  Value posInt = cvt->getOperand(0);
  auto posType = cast<RankedTensorType>(posInt.getType());
  if (posType.getRank() != 3 || posType.getDimSize(1) != 1)
    return std::nullopt;
  Value inv = fusion::stripBroadcasts(matmul.getLhs());
  auto invType = cast<RankedTensorType>(inv.getType());
  if (invType.getRank() < 2 || invType.getShape().back() != 1 ||
      invType.isDynamicDim(invType.getRank() - 2) ||
      !llvm::all_of(invType.getShape().drop_back(2),
                    [](int64_t s) { return s == 1; }))
    return std::nullopt;
  return HFAngles{posInt, inv};
}

struct FuseRopePass : ds::impl::DSFuseRopeBase<FuseRopePass> {
  using Base::Base;

  void remark(Operation *at, const Twine &why) {
    fusion::remarkMissed(emitRemarks, at, kPass, why);
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<tensor::ConcatOp> concats;
    func.walk([&](tensor::ConcatOp op) {
      if (op.getInputs().size() == 2 &&
          llvm::any_of(op.getInputs(), [](Value v) {
            return v.getDefiningOp<arith::NegFOp>();
          }))
        concats.push_back(op);
    });
    bool changed = false;
    for (tensor::ConcatOp concat : concats)
      changed |= succeeded(tryRope(concat));
    if (changed) {
      IRRewriter rewriter(func.getContext());
      (void)runRegionDCE(rewriter, func->getRegions());
    }
  }

  /// The first half `[..., :h]` of table `c`, built before `at`.
  Value firstHalf(OpBuilder &b, Location loc, Value c, int64_t h) {
    auto type = cast<RankedTensorType>(c.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, c);
    sizes.back() = b.getIndexAttr(h);
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, c, offsets, sizes, strides);
  }

  /// Tries to turn the HF table computation behind `cosTrace`/`sinTrace`
  /// into ds.rope_table; returns the half tables shaped like `cosTable`
  /// with last dimension h, or nothing.
  std::optional<std::pair<Value, Value>>
  buildRopeTable(OpBuilder &b, Location loc, Value cosTable,
                 const TableTrace &cosTrace, const TableTrace &sinTrace,
                 int64_t h) {
    if (!cosTrace.half || cosTrace.half != sinTrace.half)
      return std::nullopt;
    std::optional<HFAngles> angles = matchHFAngles(cosTrace.half);
    if (!angles)
      return std::nullopt;
    // Each chain: reshapes, exactly one cos (sin), at most one scale,
    // float casts.
    auto chainScale = [](const TableTrace &tr, bool isCos,
                         double &scale) -> bool {
      int trig = 0, scales = 0;
      scale = 1.0;
      for (Operation *op : tr.chain) {
        if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp, arith::ExtFOp,
                arith::TruncFOp>(op))
          continue;
        if (isCos ? isa<math::CosOp>(op) : isa<math::SinOp>(op)) {
          ++trig;
          continue;
        }
        if (auto mul = dyn_cast<arith::MulFOp>(op)) {
          std::optional<double> s = fusion::getSplatFloat(mul.getRhs());
          if (!s)
            s = fusion::getSplatFloat(mul.getLhs());
          if (!s)
            return false;
          scale = *s;
          ++scales;
          continue;
        }
        return false;
      }
      return trig == 1 && scales <= 1;
    };
    double cosScale, sinScale;
    if (!chainScale(cosTrace, true, cosScale) ||
        !chainScale(sinTrace, false, sinScale) || cosScale != sinScale)
      return std::nullopt;
    // The table shape: [P, S, 2H] or [P, 1, S, 2H] with t = [P, S, H].
    auto tType = cast<RankedTensorType>(cosTrace.half.getType());
    auto cType = cast<RankedTensorType>(cosTable.getType());
    if (tType.getRank() != 3 || tType.getShape().back() != h)
      return std::nullopt;
    ArrayRef<int64_t> ts = tType.getShape(), cs = cType.getShape();
    bool rank3 = cType.getRank() == 3 && cs[0] == ts[0] && cs[1] == ts[1];
    bool rank4 = cType.getRank() == 4 && cs[0] == ts[0] && cs[1] == 1 &&
                 cs[2] == ts[1];
    if (!rank3 && !rank4)
      return std::nullopt;
    auto posType = cast<RankedTensorType>(angles->positions.getType());
    if (posType.getDimSize(0) != ts[0] || posType.getDimSize(2) != ts[1])
      return std::nullopt;

    // positions [P, S]: the tensor expanded to [P, 1, S] where possible.
    Value positions;
    auto posFlat = RankedTensorType::get(
        {posType.getDimSize(0), posType.getDimSize(2)},
        posType.getElementType());
    if (auto expand = angles->positions.getDefiningOp<tensor::ExpandShapeOp>()) {
      auto srcType = expand.getSrcType();
      if (srcType.getRank() == 2 && srcType.getShape() == posFlat.getShape())
        positions = expand.getSrc();
      else if (srcType.getRank() == 1 && posFlat.getDimSize(0) == 1)
        positions = tensor::ExpandShapeOp::create(
            b, loc, posFlat, expand.getSrc(),
            ArrayRef<ReassociationIndices>{{0, 1}},
            SmallVector<OpFoldResult>{
                b.getIndexAttr(1),
                tensor::getMixedSizes(b, loc, expand.getSrc())[0]});
    }
    if (!positions)
      positions = tensor::CollapseShapeOp::create(
          b, loc, posFlat, angles->positions,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}});

    // inv_freq [H].
    Value inv = angles->invFreq;
    auto invType = cast<RankedTensorType>(inv.getType());
    auto invFlat = RankedTensorType::get({h}, invType.getElementType());
    if (invType.getDimSize(invType.getRank() - 2) != h)
      return std::nullopt;
    DenseElementsAttr invAttr;
    if (auto cst = inv.getDefiningOp<arith::ConstantOp>())
      invAttr = dyn_cast<DenseElementsAttr>(cst.getValue());
    if (invAttr) {
      inv = arith::ConstantOp::create(b, loc, invAttr.reshape(invFlat));
    } else {
      SmallVector<ReassociationIndices> reassoc(1);
      for (int64_t i = 0; i < invType.getRank(); ++i)
        reassoc[0].push_back(i);
      inv = tensor::CollapseShapeOp::create(b, loc, invFlat, inv, reassoc);
    }

    auto tableType = RankedTensorType::get(
        {ts[0], ts[1], h}, cType.getElementType());
    auto table = RopeTableOp::create(
        b, loc, TypeRange{tableType, tableType}, positions, inv,
        b.getF32FloatAttr(static_cast<float>(cosScale)));
    Value cos = table.getCos(), sin = table.getSin();
    if (rank4) {
      auto outType = RankedTensorType::get({ts[0], 1, ts[1], h},
                                           cType.getElementType());
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, cos);
      SmallVector<OpFoldResult> outSizes = {sizes[0], b.getIndexAttr(1),
                                            sizes[1], sizes[2]};
      SmallVector<ReassociationIndices> reassoc = {{0}, {1, 2}, {3}};
      cos = tensor::ExpandShapeOp::create(b, loc, outType, cos, reassoc,
                                          outSizes);
      sin = tensor::ExpandShapeOp::create(b, loc, outType, sin, reassoc,
                                          outSizes);
    }
    return std::make_pair(cos, sin);
  }

  LogicalResult tryRope(tensor::ConcatOp concat) {
    auto type = concat.getResultType();
    int64_t rank = type.getRank();
    if (concat.getDim() != static_cast<uint64_t>(rank - 1))
      return failure(); // not a rotate_half candidate
    Value a = concat.getInputs()[0], b2 = concat.getInputs()[1];
    auto neg = a.getDefiningOp<arith::NegFOp>();
    auto first = neg ? neg.getOperand().getDefiningOp<tensor::ExtractSliceOp>()
                     : nullptr;
    auto second = b2.getDefiningOp<tensor::ExtractSliceOp>();
    if (!neg) {
      // concat(x[..., :h], -x[..., h:]): the halves are swapped.
      remark(concat, "rotate_half candidate: the negated half comes second "
                     "(halves swapped)");
      return failure();
    }
    if (!first || !second || first.getSource() != second.getSource()) {
      remark(concat, "rotate_half candidate: the two halves are not slices "
                     "of one tensor");
      return failure();
    }
    Value x = first.getSource();
    auto hi = lastDimSlice(first), lo = lastDimSlice(second);
    if (!hi || !lo || hi->second != lo->second) {
      remark(concat, "rotate_half candidate: the slices are not equal static "
                     "ranges of the last dimension");
      return failure();
    }
    int64_t h = lo->second;
    if (lo->first != 0 || hi->first != h) {
      remark(concat, "rotate_half candidate: expected concat(-x[..., h:2h], "
                     "x[..., 0:h]) (halves swapped or misplaced)");
      return failure();
    }
    auto xType = cast<RankedTensorType>(x.getType());
    if (xType.getShape().back() != 2 * h) {
      remark(concat, "rotate_half candidate: partial rotary (rotary_dim " +
                         Twine(2 * h) + " of head_dim " +
                         Twine(xType.getShape().back()) +
                         ") is not supported");
      return failure();
    }
    // The concatenation must have x's type: elementwise ops below then
    // force its dynamic leading sizes to equal x's.
    if (type != xType) {
      remark(concat, "rotate_half candidate: rotate_half(x) does not have "
                     "x's type");
      return failure();
    }
    // x * cos + rotate_half(x) * sin
    arith::MulFOp sinMul, cosMul;
    arith::AddFOp add;
    for (Operation *user : concat->getUsers()) {
      auto m = dyn_cast<arith::MulFOp>(user);
      if (!m || !m->hasOneUse())
        continue;
      auto ad = dyn_cast<arith::AddFOp>(*m->getUsers().begin());
      if (!ad)
        continue;
      auto other = otherOperand(ad, m.getResult());
      auto cm = other ? other.getDefiningOp<arith::MulFOp>() : nullptr;
      if (cm && otherOperand(cm, x)) {
        sinMul = m;
        cosMul = cm;
        add = ad;
        break;
      }
    }
    if (!add) {
      remark(concat, "rotate_half candidate: not used as x * cos + "
                     "rotate_half(x) * sin");
      return failure();
    }
    Value cosB = otherOperand(cosMul, x);
    Value sinB = otherOperand(sinMul, concat.getResult());
    if (cosB.getType() != xType || sinB.getType() != xType ||
        add.getType() != xType) {
      remark(concat, "RoPE candidate: cos/sin are broadcast beyond x");
      return failure();
    }
    Value cosTable = fusion::stripBroadcasts(cosB);
    Value sinTable = fusion::stripBroadcasts(sinB);
    auto cType = cast<RankedTensorType>(cosTable.getType());
    if (cosTable.getType() != sinTable.getType() || cType.getRank() < 2 ||
        cType.getShape().back() != 2 * h) {
      remark(concat, "RoPE candidate: cos and sin tables are not of one "
                     "type with the full head dimension");
      return failure();
    }
    std::string why;
    FailureOr<TableTrace> cosTrace = traceTable(cosTable, why);
    FailureOr<TableTrace> sinTrace = failure();
    if (succeeded(cosTrace))
      sinTrace = traceTable(sinTable, why);
    if (failed(cosTrace) || failed(sinTrace)) {
      remark(concat, "RoPE candidate: " + why);
      return failure();
    }
    OpBuilder b(add);
    Location loc = add.getLoc();
    Value cosHalf, sinHalf;
    if (auto tables =
            buildRopeTable(b, loc, cosTable, *cosTrace, *sinTrace, h)) {
      std::tie(cosHalf, sinHalf) = *tables;
    } else {
      cosHalf = firstHalf(b, loc, cosTable, h);
      sinHalf = firstHalf(b, loc, sinTable, h);
    }
    auto rope = RopeOp::create(
        b, loc, xType, x, cosHalf, sinHalf,
        RopeModeAttr::get(b.getContext(), RopeMode::rotate_half),
        IntegerAttr());
    add.getResult().replaceAllUsesWith(rope.getResult());
    return success();
  }
};
} // namespace
