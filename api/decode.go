package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tagpay/tagpay/store"
)

// DefaultMaxBodyBytes bounds a request body; the largest request (a tag registration
// with SUN keys) is well under 1 KiB.
const DefaultMaxBodyBytes = 64 << 10

// readBody reads a whole request body, refusing one above limit bytes, one of another
// media type, and one that a slow client does not finish in time.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, newHTTPError(http.StatusUnsupportedMediaType, store.KindInvalid, "unsupported_media_type", "request bodies are JSON (Content-Type: application/json), not %q", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr interface{ Timeout() bool }
		switch {
		case errors.As(err, &tooBig):
			return nil, newHTTPError(http.StatusRequestEntityTooLarge, store.KindInvalid, "request_too_large", "request body is larger than %d bytes", limit)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
			return nil, newHTTPError(http.StatusRequestTimeout, store.KindInvalid, "request_timeout", "request body was not received in time")
		}
		return nil, newHTTPError(http.StatusBadRequest, store.KindInvalid, "unreadable_body", "cannot read the request body: %v", err)
	}
	return body, nil
}

// decodeBody reads one JSON object into v, strictly: unknown fields, fields named in
// another case, repeated fields, wrong types, trailing data and invalid UTF-8 are refused
// with an error naming the problem (and the field, where there is one). An empty body is
// an empty object.
func decodeBody(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	if !utf8.Valid(trimmed) {
		return store.Errorf(store.KindInvalid, "malformed_json", "request body is not valid UTF-8")
	}
	if trimmed[0] != '{' {
		return store.Errorf(store.KindInvalid, "malformed_json", "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.Errorf(store.KindInvalid, "malformed_json", "request body has data after the JSON object")
	}
	// encoding/json matches names without regard to case and keeps the last of repeated
	// names: a body that two parsers could read differently is refused instead.
	names := json.NewDecoder(bytes.NewReader(trimmed))
	names.UseNumber()
	if err := checkNames(names, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	canonicalIDs(reflect.ValueOf(v))
	return nil
}

// canonicalIDs rewrites every string in v that is a ledger id written in another case
// as the ledger spells it (store.CanonicalID), so that an id is found whatever its case.
// Free text (store.FreeText) is kept as written, as the command line keeps it.
func canonicalIDs(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			canonicalIDs(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && !store.FreeText(jsonName(f)) {
				canonicalIDs(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			canonicalIDs(v.Index(i))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(store.CanonicalID(v.String()))
		}
	}
}

// jsonName is the name of field f in JSON.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// checkNames walks the next JSON value of dec (already known to be valid and to fit t)
// and refuses a repeated name in any object and, where t says which fields exist, a
// name that is not exactly one of them.
func checkNames(dec *json.Decoder, t reflect.Type, at string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)) {
		t = nil // it reads its own JSON: only repeats are checked inside
	}
	tok, err := dec.Token()
	if err != nil {
		return decodeError(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkNames(dec, elem, at); err != nil {
				return err
			}
		}
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return decodeError(err)
			}
			name, _ := tok.(string)
			field := name
			if at != "" {
				field = at + "." + name
			}
			if seen[name] {
				return store.Errorf(store.KindInvalid, "duplicate_field", "field %q is given more than once", field).WithParam(field)
			}
			seen[name] = true
			var sub reflect.Type
			switch {
			case t != nil && t.Kind() == reflect.Struct:
				fields := jsonFields(t)
				ft, ok := fields[name]
				if !ok {
					for exact := range fields {
						if strings.EqualFold(exact, name) {
							return store.Errorf(store.KindInvalid, "unknown_field", "field %q is not part of this request; names are case-sensitive: %q", field, exact).WithParam(field)
						}
					}
					return store.Errorf(store.KindInvalid, "unknown_field", "field %q is not part of this request", field).WithParam(field)
				}
				sub = ft
			case t != nil && t.Kind() == reflect.Map:
				sub = t.Elem()
			}
			if err := checkNames(dec, sub, field); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	if err != nil {
		return decodeError(err)
	}
	return nil
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of struct type t, promoted fields of embedded structs
// included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && (f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct) {
			continue // its fields are listed themselves
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := m[name]; !dup || len(f.Index) == 1 {
			m[name] = f.Type
		}
	}
	fieldCache.Store(t, m)
	return m
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return store.Errorf(store.KindInvalid, "malformed_json", "request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return store.Errorf(store.KindInvalid, "malformed_json", "request body ends in the middle of the JSON")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return store.Errorf(store.KindInvalid, "invalid_type", "request body must be a JSON object, not %s", typeErr.Value)
		}
		return store.Errorf(store.KindInvalid, "invalid_type", "field %q must be %s, not %s", field, jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value).WithParam(field)
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return store.Errorf(store.KindInvalid, "unknown_field", "field %q is not part of this request", name).WithParam(name)
	}
	return store.Errorf(store.KindInvalid, "malformed_json", "request body is not valid JSON: %v", err)
}

// jsonTypeName says which JSON type a Go kind is decoded from.
func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return "of another type"
}
