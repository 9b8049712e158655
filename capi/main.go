// Command capi is the C API of the Go core, built with -buildmode=c-shared
// into libsnd.so. It only translates: C types and JSON in, one core call,
// status codes and Arrow structs out. snd.h documents every function.
package main

func main() {}
