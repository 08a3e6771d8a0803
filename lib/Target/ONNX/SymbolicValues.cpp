//===- SymbolicValues.cpp - import-time index arithmetic ------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Target/ONNX/SymbolicValues.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::ds;

namespace {
/// Two's complement wraparound arithmetic on int64_t.
int64_t wrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) +
                              static_cast<uint64_t>(b));
}
int64_t wrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) -
                              static_cast<uint64_t>(b));
}
int64_t wrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) *
                              static_cast<uint64_t>(b));
}
/// C division, defined for INT64_MIN / -1 (wraps).
int64_t truncDiv(int64_t a, int64_t b) {
  if (b == -1)
    return wrapSub(0, a);
  return a / b;
}
int64_t truncRem(int64_t a, int64_t b) { return b == -1 ? 0 : a % b; }
int64_t floorDivide(int64_t a, int64_t b) {
  int64_t q = truncDiv(a, b);
  if (truncRem(a, b) != 0 && ((a < 0) != (b < 0)))
    --q;
  return q;
}
int64_t ceilDivide(int64_t a, int64_t b) {
  int64_t q = truncDiv(a, b);
  if (truncRem(a, b) != 0 && ((a < 0) == (b < 0)))
    ++q;
  return q;
}
int64_t floorRem(int64_t a, int64_t b) {
  int64_t r = truncRem(a, b);
  if (r != 0 && ((r < 0) != (b < 0)))
    r += b;
  return r;
}

bool evalCmp(arith::CmpIPredicate pred, int64_t a, int64_t b) {
  using P = arith::CmpIPredicate;
  switch (pred) {
  case P::eq:
    return a == b;
  case P::ne:
    return a != b;
  case P::slt:
    return a < b;
  case P::sle:
    return a <= b;
  case P::sgt:
    return a > b;
  case P::sge:
    return a >= b;
  case P::ult:
    return static_cast<uint64_t>(a) < static_cast<uint64_t>(b);
  case P::ule:
    return static_cast<uint64_t>(a) <= static_cast<uint64_t>(b);
  case P::ugt:
    return static_cast<uint64_t>(a) > static_cast<uint64_t>(b);
  case P::uge:
    return static_cast<uint64_t>(a) >= static_cast<uint64_t>(b);
  }
  llvm_unreachable("unknown predicate");
}

/// The predicate with its operands swapped: `a p b` iff `b swapped(p) a`.
arith::CmpIPredicate swapped(arith::CmpIPredicate pred) {
  using P = arith::CmpIPredicate;
  switch (pred) {
  case P::slt:
    return P::sgt;
  case P::sle:
    return P::sge;
  case P::sgt:
    return P::slt;
  case P::sge:
    return P::sle;
  case P::ult:
    return P::ugt;
  case P::ule:
    return P::uge;
  case P::ugt:
    return P::ult;
  case P::uge:
    return P::ule;
  default:
    return pred;
  }
}

/// Atoms sorted by identity, for multiset comparisons.
SmallVector<Value> sortedAtoms(ArrayRef<Value> atoms) {
  SmallVector<Value> s(atoms);
  llvm::sort(s, [](Value a, Value b) {
    return a.getAsOpaquePointer() < b.getAsOpaquePointer();
  });
  return s;
}
} // namespace

SymbolicIndexBuilder::Operand SymbolicIndexBuilder::key(OpFoldResult v) const {
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return {nullptr, *c};
  return {cast<Value>(v).getAsOpaquePointer(), 0};
}

Value SymbolicIndexBuilder::cached(Kind kind, int sub,
                                   ArrayRef<OpFoldResult> operands,
                                   bool commutative,
                                   llvm::function_ref<Value()> fn) {
  int tag = static_cast<int>(kind) * 64 + sub;
  Operand none{nullptr, 0};
  Operand k0 = key(operands[0]);
  Operand k1 = operands.size() > 1 ? key(operands[1]) : none;
  Operand k2 = operands.size() > 2 ? key(operands[2]) : none;
  Key k{tag, k0, k1, k2};
  if (auto it = cache.find(k); it != cache.end())
    return it->second;
  if (commutative) {
    if (auto it = cache.find(Key{tag, k1, k0, k2}); it != cache.end())
      return it->second;
  }
  Value v = fn();
  cache[k] = v;
  return v;
}

Value SymbolicIndexBuilder::materialize(Location loc, OpFoldResult value) {
  if (std::optional<int64_t> c = getConstantIntValue(value)) {
    auto it = constants.find(*c);
    if (it != constants.end())
      return it->second;
    Value v = arith::ConstantIndexOp::create(b, loc, *c);
    constants[*c] = v;
    return v;
  }
  return cast<Value>(value);
}

void SymbolicIndexBuilder::assumeAtLeast(Value value, int64_t bound) {
  auto [it, inserted] = lowerBounds.try_emplace(value, bound);
  if (!inserted)
    it->second = std::max(it->second, bound);
}

std::optional<int64_t>
SymbolicIndexBuilder::lowerBound(OpFoldResult value) const {
  if (std::optional<int64_t> c = getConstantIntValue(value))
    return *c;
  auto it = lowerBounds.find(cast<Value>(value));
  if (it == lowerBounds.end())
    return std::nullopt;
  return it->second;
}

/// Lower bounds stay small; past this they are dropped rather than risk
/// overflow.
static constexpr int64_t kBoundLimit = int64_t(1) << 40;

static std::optional<int64_t> boundSum(std::optional<int64_t> a,
                                       std::optional<int64_t> b) {
  auto small = [](int64_t v) { return v >= -kBoundLimit && v <= kBoundLimit; };
  if (!a || !b || !small(*a) || !small(*b))
    return std::nullopt;
  return *a + *b;
}

static std::optional<int64_t> boundProduct(std::optional<int64_t> a,
                                           std::optional<int64_t> b) {
  if (!a || !b || *a < 0 || *b < 0 || *a > kBoundLimit || *b > kBoundLimit)
    return std::nullopt;
  int64_t p;
  if (__builtin_mul_overflow(*a, *b, &p) || p > kBoundLimit)
    return std::nullopt;
  return p;
}

std::pair<Value, int64_t>
SymbolicIndexBuilder::linear(OpFoldResult value) const {
  if (std::optional<int64_t> c = getConstantIntValue(value))
    return {Value(), *c};
  Value v = cast<Value>(value);
  auto it = offsets.find(v);
  if (it != offsets.end())
    return it->second;
  return {v, 0};
}

std::optional<int64_t>
SymbolicIndexBuilder::constantDifference(OpFoldResult lhs,
                                         OpFoldResult rhs) const {
  auto [x, a] = linear(lhs);
  auto [y, c] = linear(rhs);
  if (x != y)
    return std::nullopt;
  return wrapSub(a, c);
}

OpFoldResult SymbolicIndexBuilder::add(Location loc, OpFoldResult lhs,
                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (a && c)
    return b.getIndexAttr(wrapAdd(*a, *c));
  if (a && *a == 0)
    return rhs;
  if (c && *c == 0)
    return lhs;
  // (x + k1) + k2 is x + (k1 + k2): rebuild from x.
  if (a || c) {
    auto [base, off] = linear(a ? rhs : lhs);
    int64_t k = wrapAdd(off, a ? *a : *c);
    if (k == 0)
      return base;
    OpFoldResult kAttr = b.getIndexAttr(k);
    Value v = cached(Kind::Add, 0, {base, kAttr}, /*commutative=*/true, [&] {
      return arith::AddIOp::create(b, loc, materialize(loc, base),
                                   materialize(loc, kAttr))
          .getResult();
    });
    offsets[v] = {base, k};
    if (auto lb = boundSum(lowerBound(base), k))
      assumeAtLeast(v, *lb);
    return v;
  }
  Value v = cached(Kind::Add, 0, {lhs, rhs}, /*commutative=*/true, [&] {
    return arith::AddIOp::create(b, loc, materialize(loc, lhs),
                                 materialize(loc, rhs))
        .getResult();
  });
  if (auto lb = boundSum(lowerBound(lhs), lowerBound(rhs)))
    assumeAtLeast(v, *lb);
  return v;
}

OpFoldResult SymbolicIndexBuilder::sub(Location loc, OpFoldResult lhs,
                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (a && c)
    return b.getIndexAttr(wrapSub(*a, *c));
  if (c)
    return add(loc, lhs, b.getIndexAttr(wrapSub(0, *c)));
  if (std::optional<int64_t> d = constantDifference(lhs, rhs))
    return b.getIndexAttr(*d);
  if (provablyEqual(lhs, rhs))
    return b.getIndexAttr(0);
  return cached(Kind::Sub, 0, {lhs, rhs}, /*commutative=*/false, [&] {
    return arith::SubIOp::create(b, loc, materialize(loc, lhs),
                                 materialize(loc, rhs))
        .getResult();
  });
}

OpFoldResult SymbolicIndexBuilder::mul(Location loc, OpFoldResult lhs,
                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (a && c)
    return b.getIndexAttr(wrapMul(*a, *c));
  if ((a && *a == 0) || (c && *c == 0))
    return b.getIndexAttr(0);
  if (a && *a == 1)
    return rhs;
  if (c && *c == 1)
    return lhs;
  // Constants go last: `s * 12`, whichever side they came from.
  if (a)
    std::swap(lhs, rhs);
  Value v = cached(Kind::Mul, 0, {lhs, rhs}, /*commutative=*/true, [&] {
    return arith::MulIOp::create(b, loc, materialize(loc, lhs),
                                 materialize(loc, rhs))
        .getResult();
  });
  if (!products.count(v)) {
    SymbolicProduct pl = decompose(lhs), pr = decompose(rhs);
    pl.coefficient = wrapMul(pl.coefficient, pr.coefficient);
    llvm::append_range(pl.atoms, pr.atoms);
    products[v] = std::move(pl);
  }
  if (auto lb = boundProduct(lowerBound(lhs), lowerBound(rhs)))
    assumeAtLeast(v, *lb);
  return v;
}

OpFoldResult SymbolicIndexBuilder::max(Location loc, OpFoldResult lhs,
                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (a && c)
    return b.getIndexAttr(std::max(*a, *c));
  if (std::optional<int64_t> d = constantDifference(lhs, rhs))
    return *d >= 0 ? lhs : rhs;
  if (provablyEqual(lhs, rhs))
    return lhs;
  // max(x, k) is x when x >= k is known.
  std::optional<int64_t> la = lowerBound(lhs), lc = lowerBound(rhs);
  if (c && la && *la >= *c)
    return lhs;
  if (a && lc && *lc >= *a)
    return rhs;
  Value v = cached(Kind::Max, 0, {lhs, rhs}, /*commutative=*/true, [&] {
    return arith::MaxSIOp::create(b, loc, materialize(loc, lhs),
                                  materialize(loc, rhs))
        .getResult();
  });
  if (la || lc)
    assumeAtLeast(v, std::max(la.value_or(INT64_MIN), lc.value_or(INT64_MIN)));
  return v;
}

OpFoldResult SymbolicIndexBuilder::min(Location loc, OpFoldResult lhs,
                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (a && c)
    return b.getIndexAttr(std::min(*a, *c));
  if (std::optional<int64_t> d = constantDifference(lhs, rhs))
    return *d <= 0 ? lhs : rhs;
  if (provablyEqual(lhs, rhs))
    return lhs;
  // min(k, x) is k when x >= k is known.
  std::optional<int64_t> la = lowerBound(lhs), lc = lowerBound(rhs);
  if (a && lc && *lc >= *a)
    return lhs;
  if (c && la && *la >= *c)
    return rhs;
  Value v = cached(Kind::Min, 0, {lhs, rhs}, /*commutative=*/true, [&] {
    return arith::MinSIOp::create(b, loc, materialize(loc, lhs),
                                  materialize(loc, rhs))
        .getResult();
  });
  if (la && lc)
    assumeAtLeast(v, std::min(*la, *lc));
  return v;
}

template <typename OpTy>
FailureOr<OpFoldResult>
SymbolicIndexBuilder::roundedDiv(Location loc, OpFoldResult lhs,
                                 OpFoldResult rhs, Kind kind,
                                 int64_t (*fold)(int64_t, int64_t)) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (c && *c == 0)
    return failure();
  if (a && c)
    return OpFoldResult(b.getIndexAttr(fold(*a, *c)));
  if (c && *c == 1)
    return lhs;
  bool nonNegative = isNonNegative(lhs) && isNonNegative(rhs);
  // Exact symbolic quotients of non-negative values need no division.
  if (nonNegative)
    if (std::optional<OpFoldResult> q = exactDiv(loc, lhs, rhs))
      return *q;
  Value v = cached(kind, 0, {lhs, rhs}, /*commutative=*/false, [&] {
    return OpTy::create(b, loc, materialize(loc, lhs), materialize(loc, rhs))
        .getResult();
  });
  if (nonNegative)
    assumeNonNegative(v);
  return OpFoldResult(v);
}

FailureOr<OpFoldResult> SymbolicIndexBuilder::divTrunc(Location loc,
                                                       OpFoldResult lhs,
                                                       OpFoldResult rhs) {
  return roundedDiv<arith::DivSIOp>(loc, lhs, rhs, Kind::DivS, truncDiv);
}

FailureOr<OpFoldResult> SymbolicIndexBuilder::floorDiv(Location loc,
                                                       OpFoldResult lhs,
                                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (c && *c == 0)
    return failure();
  if (a && c)
    return OpFoldResult(b.getIndexAttr(floorDivide(*a, *c)));
  if (isNonNegative(lhs) && isNonNegative(rhs))
    return divTrunc(loc, lhs, rhs);
  return OpFoldResult(
      cached(Kind::FloorDiv, 0, {lhs, rhs}, /*commutative=*/false, [&] {
        return arith::FloorDivSIOp::create(b, loc, materialize(loc, lhs),
                                           materialize(loc, rhs))
            .getResult();
      }));
}

FailureOr<OpFoldResult> SymbolicIndexBuilder::ceilDiv(Location loc,
                                                      OpFoldResult lhs,
                                                      OpFoldResult rhs) {
  return roundedDiv<arith::CeilDivSIOp>(loc, lhs, rhs, Kind::CeilDiv,
                                        ceilDivide);
}

FailureOr<OpFoldResult> SymbolicIndexBuilder::remTrunc(Location loc,
                                                       OpFoldResult lhs,
                                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (c && *c == 0)
    return failure();
  if (a && c)
    return OpFoldResult(b.getIndexAttr(truncRem(*a, *c)));
  if (c && (*c == 1 || *c == -1))
    return OpFoldResult(b.getIndexAttr(0));
  Value v = cached(Kind::RemS, 0, {lhs, rhs}, /*commutative=*/false, [&] {
    return arith::RemSIOp::create(b, loc, materialize(loc, lhs),
                                  materialize(loc, rhs))
        .getResult();
  });
  if (isNonNegative(lhs))
    assumeNonNegative(v);
  return OpFoldResult(v);
}

FailureOr<OpFoldResult> SymbolicIndexBuilder::remFloor(Location loc,
                                                       OpFoldResult lhs,
                                                       OpFoldResult rhs) {
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (c && *c == 0)
    return failure();
  if (a && c)
    return OpFoldResult(b.getIndexAttr(floorRem(*a, *c)));
  if (isNonNegative(lhs) && isNonNegative(rhs))
    return remTrunc(loc, lhs, rhs);
  // r = a rem b; r != 0 && (r < 0) != (b < 0) ? r + b : r
  FailureOr<OpFoldResult> r = remTrunc(loc, lhs, rhs);
  if (failed(r))
    return failure();
  OpFoldResult zero = b.getIndexAttr(0);
  OpFoldResult rNeg = cmp(loc, arith::CmpIPredicate::slt, *r, zero);
  OpFoldResult bNeg = cmp(loc, arith::CmpIPredicate::slt, rhs, zero);
  OpFoldResult signsDiffer = cmp(loc, arith::CmpIPredicate::ne, rNeg, bNeg);
  OpFoldResult nonZero = cmp(loc, arith::CmpIPredicate::ne, *r, zero);
  OpFoldResult fix = select(loc, nonZero, signsDiffer, zero);
  return select(loc, fix, add(loc, *r, rhs), *r);
}

OpFoldResult SymbolicIndexBuilder::cmp(Location loc, arith::CmpIPredicate pred,
                                       OpFoldResult lhs, OpFoldResult rhs) {
  using P = arith::CmpIPredicate;
  std::optional<int64_t> a = getConstantIntValue(lhs);
  std::optional<int64_t> c = getConstantIntValue(rhs);
  if (a && c)
    return b.getIndexAttr(evalCmp(pred, *a, *c) ? 1 : 0);
  if (std::optional<int64_t> d = constantDifference(lhs, rhs);
      d && pred != P::ult && pred != P::ule && pred != P::ugt && pred != P::uge)
    return b.getIndexAttr(evalCmp(pred, *d, 0) ? 1 : 0);
  if (provablyEqual(lhs, rhs))
    return b.getIndexAttr(evalCmp(pred, 0, 0) ? 1 : 0);
  // `x pred k` where x >= lb: decided when lb is on one side of k.
  auto decide = [&](P p, std::optional<int64_t> lb,
                    int64_t k) -> std::optional<bool> {
    if (!lb)
      return std::nullopt;
    switch (p) {
    case P::slt: // x < k
      return *lb >= k ? std::optional<bool>(false) : std::nullopt;
    case P::sle:
      return *lb > k ? std::optional<bool>(false) : std::nullopt;
    case P::sgt:
      return *lb > k ? std::optional<bool>(true) : std::nullopt;
    case P::sge:
      return *lb >= k ? std::optional<bool>(true) : std::nullopt;
    case P::eq:
      return *lb > k ? std::optional<bool>(false) : std::nullopt;
    case P::ne:
      return *lb > k ? std::optional<bool>(true) : std::nullopt;
    default:
      return std::nullopt;
    }
  };
  std::optional<bool> known;
  if (c)
    known = decide(pred, lowerBound(lhs), *c);
  else if (a)
    known = decide(swapped(pred), lowerBound(rhs), *a);
  if (known)
    return b.getIndexAttr(*known ? 1 : 0);
  Value v = cached(
      Kind::Cmp, static_cast<int>(pred), {lhs, rhs},
      /*commutative=*/false, [&]() -> Value {
        Value i1 = arith::CmpIOp::create(b, loc, pred, materialize(loc, lhs),
                                         materialize(loc, rhs));
        return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), i1);
      });
  assumeNonNegative(v);
  return v;
}

OpFoldResult SymbolicIndexBuilder::select(Location loc, OpFoldResult cond,
                                          OpFoldResult lhs, OpFoldResult rhs) {
  if (std::optional<int64_t> c = getConstantIntValue(cond))
    return *c != 0 ? lhs : rhs;
  if (provablyEqual(lhs, rhs))
    return lhs;
  Value v = cached(
      Kind::Select, 0, {cond, lhs, rhs}, /*commutative=*/false, [&]() -> Value {
        Value c = materialize(loc, cond);
        Value zero = materialize(loc, b.getIndexAttr(0));
        Value i1 =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, c, zero);
        return arith::SelectOp::create(b, loc, i1, materialize(loc, lhs),
                                       materialize(loc, rhs));
      });
  if (isNonNegative(lhs) && isNonNegative(rhs))
    assumeNonNegative(v);
  return v;
}

SymbolicProduct SymbolicIndexBuilder::decompose(OpFoldResult value) const {
  SymbolicProduct p;
  if (std::optional<int64_t> c = getConstantIntValue(value)) {
    p.coefficient = *c;
    return p;
  }
  Value v = cast<Value>(value);
  auto it = products.find(v);
  if (it != products.end())
    return it->second;
  p.atoms.push_back(v);
  return p;
}

bool SymbolicIndexBuilder::provablyEqual(OpFoldResult lhs,
                                         OpFoldResult rhs) const {
  if (lhs == rhs)
    return true;
  if (std::optional<int64_t> d = constantDifference(lhs, rhs))
    return *d == 0;
  SymbolicProduct a = decompose(lhs), c = decompose(rhs);
  if (a.coefficient != c.coefficient)
    return false;
  if (a.coefficient == 0)
    return true;
  return sortedAtoms(a.atoms) == sortedAtoms(c.atoms);
}

std::optional<OpFoldResult> SymbolicIndexBuilder::exactDiv(Location loc,
                                                           OpFoldResult lhs,
                                                           OpFoldResult rhs) {
  SymbolicProduct a = decompose(lhs), d = decompose(rhs);
  if (d.coefficient == 0 || truncRem(a.coefficient, d.coefficient) != 0)
    return std::nullopt;
  SymbolicProduct q;
  q.coefficient = truncDiv(a.coefficient, d.coefficient);
  SmallVector<Value> remaining(d.atoms);
  for (Value atom : a.atoms) {
    auto it = llvm::find(remaining, atom);
    if (it != remaining.end())
      remaining.erase(it);
    else
      q.atoms.push_back(atom);
  }
  if (!remaining.empty())
    return std::nullopt;
  return build(loc, q);
}

OpFoldResult SymbolicIndexBuilder::build(Location loc,
                                         const SymbolicProduct &product) {
  if (product.coefficient == 0)
    return b.getIndexAttr(0);
  OpFoldResult result;
  for (Value atom : product.atoms)
    result = result ? mul(loc, result, atom) : OpFoldResult(atom);
  if (!result)
    return b.getIndexAttr(product.coefficient);
  return mul(loc, result, b.getIndexAttr(product.coefficient));
}
