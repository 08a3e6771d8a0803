// RUN: ds-opt %s -ds-hoist-weight-prep -verify-diagnostics

// expected-error @below {{ds-hoist-weight-prep: the module already has a symbol '@prepare'}}
module {
  func.func @prepare() {
    return
  }
}
