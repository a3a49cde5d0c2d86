package strictjson

import (
	"cmp"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
)

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// class is how the checker walks a JSON value meant for a Go type.
type class uint8

const (
	classAny    class = iota // no key rules beyond duplicates (any, custom unmarshalers, scalars)
	classStruct              // keys must be the struct's JSON names
	classMap                 // keys checked for duplicates as the map would see them
	classList                // slice or array: elements walked with elem
)

// Map key kinds: how encoding/json turns a key into a map key.
const (
	keyPlain = iota // string kinds and TextUnmarshaler keys: the key as it is
	keyInt          // parsed with strconv.ParseInt
	keyUint         // parsed with strconv.ParseUint
)

// tinfo is what the checker needs to know about one Go type.
type tinfo struct {
	class class
	// rerun marks types whose decoding can fail with an error that carries
	// no position (custom unmarshalers, base64 []byte, json.Number): the
	// checker remembers where such values are so an error can be placed.
	rerun   bool
	elem    reflect.Type // classMap, classList
	keyKind int          // classMap
	fields  map[string]*finfo
	names   []string // the JSON names in field order, for messages
}

// finfo is one decodable struct field.
type finfo struct {
	bit    int // position in names, for duplicate detection
	name   string
	typ    reflect.Type // declared type, as encoding/json decodes into it
	quoted bool         // the ",string" option applies
}

var infoCache sync.Map // reflect.Type -> *tinfo

func infoOf(t reflect.Type) *tinfo {
	if ti, ok := infoCache.Load(t); ok {
		return ti.(*tinfo)
	}
	ti, _ := infoCache.LoadOrStore(t, buildInfo(t))
	return ti.(*tinfo)
}

// custom reports whether encoding/json hands values of t to an
// UnmarshalJSON or UnmarshalText method (the checks of its indirect).
func custom(t reflect.Type) bool {
	implements := func(t reflect.Type) bool {
		return t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
	}
	if t.Kind() != reflect.Pointer && t.Name() != "" && implements(reflect.PointerTo(t)) {
		return true
	}
	for ; t.Kind() == reflect.Pointer; t = t.Elem() {
		if implements(t) {
			return true
		}
	}
	return false
}

func buildInfo(t reflect.Type) *tinfo {
	if custom(t) {
		return &tinfo{class: classAny, rerun: true}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		ti := &tinfo{class: classStruct, fields: map[string]*finfo{}}
		for i, f := range structFields(t) {
			f.bit = i
			ti.fields[f.name] = f
			ti.names = append(ti.names, f.name)
		}
		return ti
	case reflect.Map:
		ti := &tinfo{class: classMap, elem: t.Elem()}
		kt := t.Key()
		if !reflect.PointerTo(kt).Implements(textUnmarshalerType) {
			switch kt.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				ti.keyKind = keyInt
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				ti.keyKind = keyUint
			}
		}
		return ti
	case reflect.Slice:
		return &tinfo{class: classList, elem: t.Elem(), rerun: t.Elem().Kind() == reflect.Uint8}
	case reflect.Array:
		return &tinfo{class: classList, elem: t.Elem()}
	case reflect.String:
		return &tinfo{class: classAny, rerun: t == numberType}
	}
	return &tinfo{class: classAny}
}

// structFields lists the fields encoding/json decodes into, with the same
// rules: json tags, "-", untagged exported names, and fields promoted from
// embedded structs with Go's dominance rules (shallower wins, then tagged;
// an unresolvable conflict drops the name).
func structFields(t reflect.Type) []*finfo {
	out := dominantFields(fieldCandidates(t))
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	res := make([]*finfo, len(out))
	for i, f := range out {
		res[i] = &finfo{name: f.name, typ: f.typ, quoted: f.quoted}
	}
	return res
}

// jsonField is a candidate for a JSON name while structFields walks a
// struct and the structs embedded in it.
type jsonField struct {
	name   string
	tagged bool
	index  []int
	typ    reflect.Type
	quoted bool
}

// fieldCandidates walks t and the structs embedded in it, breadth first
// (one depth at a time, each type once), and lists every field that
// names a JSON member, shadowed or not; dominantFields picks among them.
func fieldCandidates(t reflect.Type) []jsonField {
	var current []jsonField
	next := []jsonField{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []jsonField
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if ignoredField(sf) {
					continue
				}
				c, embedded := candidate(f, i, sf)
				if !embedded {
					fields = append(fields, c)
					if count[f.typ] > 1 {
						// Two embeddings of the same type at this depth:
						// make the conflict visible to the dominance pass.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[c.typ]++
				if nextCount[c.typ] == 1 {
					next = append(next, c)
				}
			}
		}
	}
	return fields
}

// ignoredField: encoding/json never decodes into sf (unexported and not
// an embedded struct, or tagged "-").
func ignoredField(sf reflect.StructField) bool {
	if sf.Anonymous {
		et := sf.Type
		if et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		if !sf.IsExported() && et.Kind() != reflect.Struct {
			return true
		}
	} else if !sf.IsExported() {
		return true
	}
	return sf.Tag.Get("json") == "-"
}

// candidate is field i (sf) of parent's type, at parent's index;
// embedded: it is an untagged embedded struct, whose own fields are
// walked at the next depth instead.
func candidate(parent jsonField, i int, sf reflect.StructField) (c jsonField, embedded bool) {
	name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
	if !validTag(name) {
		name = ""
	}
	index := append(slices.Clip(parent.index), i)
	ft := sf.Type
	if ft.Name() == "" && ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
		return jsonField{name: ft.Name(), index: index, typ: ft}, true
	}
	tagged := name != ""
	if name == "" {
		name = sf.Name
	}
	quoted := hasOption(opts, "string") && quotable(ft.Kind())
	return jsonField{name: name, tagged: tagged, index: index, typ: sf.Type, quoted: quoted}, false
}

// quotable: the ",string" option applies to a field of kind k.
func quotable(k reflect.Kind) bool {
	switch k {
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return false
}

// dominantFields keeps, of the candidates for each name, the dominant
// one (shallowest, then tagged); a name two candidates tie for is
// dropped, as encoding/json drops it.
func dominantFields(fields []jsonField) []jsonField {
	slices.SortFunc(fields, func(a, b jsonField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	var out []jsonField
	for i, n := 0, 0; i < len(fields); i += n {
		for n = 1; i+n < len(fields) && fields[i+n].name == fields[i].name; n++ {
		}
		group := fields[i : i+n]
		if len(group) > 1 && len(group[0].index) == len(group[1].index) && group[0].tagged == group[1].tagged {
			continue // ambiguous: encoding/json ignores the name
		}
		out = append(out, group[0])
	}
	return out
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// validTag is encoding/json's isValidTag.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
