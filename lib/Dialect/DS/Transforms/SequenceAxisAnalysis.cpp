//===- SequenceAxisAnalysis.cpp - which dimensions carry positions --------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "SequenceAxisAnalysis.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::kvcache;

bool SequenceAxisAnalysis::isSequenceLength(Value v) const {
  if (v == seqLength)
    return true;
  auto d = v.getDefiningOp<tensor::DimOp>();
  auto other = seqLength.getDefiningOp<tensor::DimOp>();
  std::optional<int64_t> i = d ? d.getConstantIndex() : std::nullopt;
  return d && other && d.getSource() == other.getSource() && i && *i == 1;
}

/// Ops that compute each element from the same element of their operands.
static bool isElementwise(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumRegions() != 0)
    return false;
  if (isa<arith::ArithDialect, math::MathDialect>(op->getDialect()))
    return !isa<arith::ConstantOp>(op);
  return isa<GeluOp, SiluOp, SigmoidOp>(op);
}

bool SequenceAxisAnalysis::isFullSize(OpFoldResult size, Value source,
                                      int64_t dim) const {
  auto type = cast<RankedTensorType>(source.getType());
  if (auto attr = dyn_cast<Attribute>(size))
    return !type.isDynamicDim(dim) &&
           cast<IntegerAttr>(attr).getInt() == type.getDimSize(dim);
  Value v = cast<Value>(size);
  if (isSequenceLength(v))
    return true;
  if (auto d = v.getDefiningOp<tensor::DimOp>()) {
    std::optional<int64_t> idx = d.getConstantIndex();
    if (d.getSource() == source && idx && *idx == dim)
      return true;
  }
  // The size the source was reshaped to (a [B*S, N] -> [B, S, N] expand
  // records B and S as SSA values).
  if (auto expand = source.getDefiningOp<tensor::ExpandShapeOp>()) {
    SmallVector<OpFoldResult> shape = expand.getMixedOutputShape();
    if (dim < static_cast<int64_t>(shape.size()))
      if (auto sv = dyn_cast<Value>(shape[dim]))
        return sv == v;
  }
  return false;
}

std::optional<Refusal> SequenceAxisAnalysis::run(func::FuncOp func) {
  for (Operation &op : func.getBody().front()) {
    if (std::optional<Refusal> r = visit(&op))
      return r;
  }
  return std::nullopt;
}

std::optional<Refusal> SequenceAxisAnalysis::visit(Operation *op) {
  auto refuse = [&](const Twine &why) -> std::optional<Refusal> {
    return Refusal{op, why.str()};
  };
  bool anySeq = false;
  for (Value operand : op->getOperands())
    anySeq |= get(operand).any();
  if (!anySeq)
    return std::nullopt;
  auto rankOf = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getRank();
  };
  auto setResult = [&](Value v, DimSet dims) { seqDims[v] = std::move(dims); };

  if (isElementwise(op)) {
    Value r = op->getResult(0);
    auto rt = dyn_cast<RankedTensorType>(r.getType());
    if (!rt)
      return refuse("elementwise op on a non-tensor sequence value");
    DimSet dims(rt.getRank());
    for (Value operand : op->getOperands()) {
      DimSet d = get(operand);
      if (d.size() != dims.size())
        return refuse("operands of different ranks");
      dims |= d;
    }
    setResult(r, dims);
    return std::nullopt;
  }

  return llvm::TypeSwitch<Operation *, std::optional<Refusal>>(op)
      .Case([&](BroadcastOp b) -> std::optional<Refusal> {
        DimSet in = get(b.getInput());
        int64_t shift = rankOf(b.getResult()) - rankOf(b.getInput());
        DimSet out(rankOf(b.getResult()));
        for (int d : in.set_bits())
          out.set(d + shift);
        setResult(b.getResult(), out);
        return std::nullopt;
      })
      .Case([&](tensor::ExpandShapeOp e) -> std::optional<Refusal> {
        DimSet in = get(e.getSrc());
        DimSet out(rankOf(e.getResult()));
        // A static unit dimension cannot carry positions: the sequence
        // lands on the group's other dimensions.
        // When the group names the sequence length itself (a [B*S] ->
        // [B, S] expand), only that dimension carries it.
        SmallVector<OpFoldResult> shape = e.getMixedOutputShape();
        for (auto [src, group] :
             llvm::enumerate(e.getReassociationIndices())) {
          if (!in.test(src))
            continue;
          bool named = false;
          for (int64_t d : group)
            if (auto v = dyn_cast<Value>(shape[d]); v && isSequenceLength(v)) {
              out.set(d);
              named = true;
            }
          if (!named)
            for (int64_t d : group)
              if (e.getResultType().getDimSize(d) != 1)
                out.set(d);
        }
        setResult(e.getResult(), out);
        return std::nullopt;
      })
      .Case([&](tensor::CollapseShapeOp c) -> std::optional<Refusal> {
        DimSet in = get(c.getSrc());
        DimSet out(rankOf(c.getResult()));
        for (auto [dst, group] :
             llvm::enumerate(c.getReassociationIndices()))
          for (int64_t d : group)
            if (in.test(d))
              out.set(dst);
        setResult(c.getResult(), out);
        return std::nullopt;
      })
      .Case([&](tensor::CastOp c) -> std::optional<Refusal> {
        setResult(c.getResult(), get(c.getSource()));
        return std::nullopt;
      })
      .Case([&](linalg::TransposeOp t) -> std::optional<Refusal> {
        DimSet in = get(t.getInput());
        DimSet out(in.size());
        for (auto [dst, src] : llvm::enumerate(t.getPermutation()))
          if (in.test(src))
            out.set(dst);
        setResult(t.getResult()[0], out);
        return std::nullopt;
      })
      .Case<tensor::EmptyOp, tensor::DimOp>(
          [&](Operation *) -> std::optional<Refusal> { return std::nullopt; })
      .Case([&](tensor::ExtractSliceOp s) -> std::optional<Refusal> {
        DimSet in = get(s.getSource());
        llvm::SmallBitVector dropped = s.getDroppedDims();
        SmallVector<OpFoldResult> offsets = s.getMixedOffsets();
        SmallVector<OpFoldResult> sizes = s.getMixedSizes();
        SmallVector<OpFoldResult> strides = s.getMixedStrides();
        DimSet out(rankOf(s.getResult()));
        int64_t dst = 0;
        for (int64_t d = 0, e = in.size(); d < e; ++d) {
          if (in.test(d)) {
            std::optional<int64_t> off = getConstantIntValue(offsets[d]);
            std::optional<int64_t> stride = getConstantIntValue(strides[d]);
            if (dropped.test(d) || !off || *off != 0 || !stride ||
                *stride != 1 || !isFullSize(sizes[d], s.getSource(), d))
              return refuse("slices along the sequence axis (dimension " +
                            Twine(d) + ")");
          }
          if (dropped.test(d))
            continue;
          if (in.test(d))
            out.set(dst);
          ++dst;
        }
        setResult(s.getResult(), out);
        return std::nullopt;
      })
      .Case([&](tensor::ConcatOp c) -> std::optional<Refusal> {
        DimSet out(rankOf(c.getResult()));
        for (Value in : c.getInputs())
          out |= get(in);
        if (out.test(c.getDim()))
          return refuse("concatenates along the sequence axis");
        setResult(c.getResult(), out);
        return std::nullopt;
      })
      .Case([&](MatMulOp m) -> std::optional<Refusal> {
        DimSet a = get(m.getLhs()), b = get(m.getRhs());
        int64_t ra = a.size(), rb = b.size(), rr = rankOf(m.getResult());
        if (ra < 2 || rb < 2)
          return refuse("matrix-vector product with a sequence operand");
        if (a.test(ra - 1) || b.test(rb - 2))
          return refuse("contracts over the sequence axis");
        if (b.test(rb - 1))
          return refuse("the sequence axis is a column dimension of the "
                        "right operand");
        DimSet out(rr);
        for (int64_t d = 0; d < ra - 2; ++d)
          if (a.test(d))
            out.set(d + rr - ra);
        for (int64_t d = 0; d < rb - 2; ++d)
          if (b.test(d))
            out.set(d + rr - rb);
        if (a.test(ra - 2))
          out.set(rr - 2);
        setResult(m.getResult(), out);
        return std::nullopt;
      })
      .Case([&](LinearOp l) -> std::optional<Refusal> {
        DimSet in = get(l.getInput());
        if (get(l.getWeight()).any() || in.test(in.size() - 1))
          return refuse("contracts over the sequence axis");
        DimSet out = in;
        if (Value r = l.getResidual())
          out |= get(r);
        setResult(l.getResult(), out);
        return std::nullopt;
      })
      .Case<LayerNormOp, RMSNormOp>([&](auto n) -> std::optional<Refusal> {
        // Both normalize over [axis, rank) and scale by a per-feature
        // weight.
        DimSet in = get(n.getInput());
        int64_t axis = n.getAxis();
        if (axis < 0)
          axis += in.size();
        for (int64_t d = axis; d < static_cast<int64_t>(in.size()); ++d)
          if (in.test(d))
            return refuse("normalizes over the sequence axis");
        if (get(n.getScale()).any())
          return refuse("a sequence-dependent scale");
        setResult(n.getResult(), in);
        return std::nullopt;
      })
      .Case([&](ReduceOp r) -> std::optional<Refusal> {
        DimSet in = get(r.getInput());
        DimSet out(rankOf(r.getResult()));
        int64_t dst = 0;
        for (int64_t d = 0, e = in.size(); d < e; ++d) {
          bool reduced = llvm::is_contained(r.getAxes(), d) ||
                         llvm::is_contained(r.getAxes(), d - e);
          if (reduced && in.test(d))
            return refuse("reduces over the sequence axis");
          if (reduced && !r.getKeepDims())
            continue;
          if (in.test(d))
            out.set(dst);
          ++dst;
        }
        setResult(r.getResult(), out);
        return std::nullopt;
      })
      .Case([&](SoftmaxOp s) -> std::optional<Refusal> {
        DimSet in = get(s.getInput());
        int64_t axis = s.getAxis();
        if (axis < 0)
          axis += in.size();
        if (in.test(axis))
          return refuse("softmax over the sequence axis");
        setResult(s.getResult(), in);
        return std::nullopt;
      })
      .Case([&](SwiGLUOp s) -> std::optional<Refusal> {
        DimSet in = get(s->getOperand(0));
        if (in.test(in.size() - 1))
          return refuse("splits the sequence axis");
        for (Value operand : s->getOperands())
          if (get(operand).size() == in.size())
            in |= get(operand);
        setResult(s->getResult(0), in);
        return std::nullopt;
      })
      .Case([&](GatherOp g) -> std::optional<Refusal> {
        if (get(g.getData()).any())
          return refuse("gathers from a sequence-dependent table");
        DimSet idx = get(g.getIndices());
        int64_t axis = g.getAxis();
        int64_t rd = rankOf(g.getData());
        if (axis < 0)
          axis += rd;
        DimSet out(rankOf(g.getResult()));
        for (int d : idx.set_bits())
          out.set(axis + d);
        setResult(g.getResult(), out);
        return std::nullopt;
      })
      .Case([&](EmbeddingOp e) -> std::optional<Refusal> {
        DimSet idx = get(e->getOperand(1));
        DimSet out(rankOf(e->getResult(0)));
        for (int d : idx.set_bits())
          out.set(d);
        setResult(e->getResult(0), out);
        return std::nullopt;
      })
      .Case([&](RopeOp r) -> std::optional<Refusal> {
        DimSet in = get(r.getInput());
        for (Value t : {r.getCos(), r.getSin()}) {
          DimSet d = get(t);
          int64_t shift = in.size() - d.size();
          for (int b : d.set_bits())
            in.set(b + shift);
        }
        setResult(r.getResult(), in);
        return std::nullopt;
      })
      .Case([&](RopeTableOp r) -> std::optional<Refusal> {
        DimSet p = get(r.getPositions());
        DimSet out(3);
        for (int d : p.set_bits())
          out.set(d);
        setResult(r.getCos(), out);
        setResult(r.getSin(), out);
        return std::nullopt;
      })
      .Case([&](AttentionOp a) -> std::optional<Refusal> {
        // Keys and values mix positions by design: they go to the cache.
        if (a.getMask())
          return refuse("attention with an explicit mask: only causal "
                        "attention can read a cache");
        if (!a.getCausal())
          return refuse("attention that is not causal: later tokens would "
                        "change earlier outputs");
        DimSet q = get(a.getQuery());
        for (int d : q.set_bits())
          if (d != 2)
            return refuse("query sequence axis is not dimension 2");
        for (Value kv : {a.getKey(), a.getValue()})
          for (int d : get(kv).set_bits())
            if (d != 2)
              return refuse("key/value sequence axis is not dimension 2");
        DimSet out(4);
        out.set(2);
        setResult(a.getResult(), out);
        return std::nullopt;
      })
      .Case([&](func::ReturnOp) -> std::optional<Refusal> {
        return std::nullopt;
      })
      .Default([&](Operation *) -> std::optional<Refusal> {
        return refuse("is not known to keep sequence positions apart");
      });
}

