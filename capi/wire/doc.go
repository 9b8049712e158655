// Package wire is the JSON wire format of the C API's search calls
// (snd_search_*, capi/snd_search.h): it decodes each request, makes the typed
// core/search call and encodes the answer. Every search export goes through
// it, so the format lives in this one place and core/search stays typed Go.
//
// Requests are JSON objects decoded with core/jsonvalue, ints and floats kept
// apart, so a where clause compares 5 and 5.0 as the caller wrote them.
// Unknown fields are an error, so a misspelled option never passes silently.
// Answers are written with floats keeping their decimal point, so Python
// reads back a float where a float was stored.
package wire
