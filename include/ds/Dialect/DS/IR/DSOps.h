//===- DSOps.h - ds operations ------------------------------------*- C++
//-*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_DSOPS_H
#define DS_DIALECT_DS_IR_DSOPS_H

#include "ds/Dialect/DS/IR/DSAttrs.h"
#include "ds/Dialect/DS/IR/DSDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "ds/Dialect/DS/IR/DSOps.h.inc"

#endif // DS_DIALECT_DS_IR_DSOPS_H
