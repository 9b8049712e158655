// Command capi is the C API of the Go core, built with -buildmode=c-shared
// into libsnd.so. It only translates: C types and JSON in, one core call,
// status codes and Arrow structs out. snd.h documents every function.
//
// Every export defers guard, itself or through the bodies in handles.go
// (openHandle, onHandle, closeHandle); json.go holds the JSON helpers, and
// the search exports' wire format is the sub-package wire.
package main

func main() {}
