//===- DSDialect.h - the ds dialect -------------------------------*- C++
//-*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_DSDIALECT_H
#define DS_DIALECT_DS_IR_DSDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Dialect.h"

#include "ds/Dialect/DS/IR/DSDialect.h.inc"

#endif // DS_DIALECT_DS_IR_DSDIALECT_H
