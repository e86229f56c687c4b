"""The compiler: .eval text → syntax tree → resolved program → typed, checked `Spec`."""
