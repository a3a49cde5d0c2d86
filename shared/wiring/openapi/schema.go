package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
)

// JSON Schemas from Go types, by reflection, with encoding/json's rules:
//
//   - a field's name is its json tag's (or the Go name); "-" drops it;
//     untagged embedded structs are flattened (the shallower field wins);
//   - in a response, a field is required unless it is omitempty/omitzero;
//     in a request, only fields tagged `openapi:"required"` are (the
//     handler decides what is missing), and an object refuses unknown
//     members (the edge decodes strictly);
//   - pointers are nullable (a response's omitempty pointer is optional
//     instead: nil is left out, never null);
//   - time.Time is a date-time string; httpapi.AmountField and json.Number
//     are integers (only JSON integer literals are accepted);
//   - a self-checking request member (httpapi.Field: Won, Memo, NameField)
//     has the bounds it declares, the same its check uses; a required
//     text is at least one character;
//   - a type with its own MarshalJSON (UnmarshalJSON in a request) needs a
//     schema here (overrides): notify.Notification is an object whose data
//     members sit beside id, type and at. Any other such type is an error,
//     so the document never guesses;
//   - named structs become components named after the type (a generic
//     name such as CreateRequest or Response, or one two packages share,
//     gets the package's name in front: SprinkleCreateRequest).
//
// Field tags add what the type cannot say: `doc:"a description"` and
// `openapi:"required,minimum=1,maximum=100,minLength=1,maxLength=200,enum=a|b,default=x"`.

type direction int

const (
	inResponse direction = iota
	inRequest
)

func (d direction) String() string {
	if d == inRequest {
		return "request"
	}
	return "response"
}

var (
	timeType         = reflect.TypeFor[time.Time]()
	amountType       = reflect.TypeFor[httpapi.AmountField]()
	numberType       = reflect.TypeFor[json.Number]()
	notificationType = reflect.TypeFor[notify.Notification]()
	marshalerType    = reflect.TypeFor[json.Marshaler]()
	unmarshalerType  = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler    = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler  = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// overrides are the schemas of types encoding/json does not render by
// their fields.
var overrides = map[reflect.Type]func() *openapi3.Schema{
	timeType: func() *openapi3.Schema { return openapi3.NewDateTimeSchema() },
	amountType: func() *openapi3.Schema {
		return openapi3.NewInt64Schema()
	},
	numberType: func() *openapi3.Schema { return openapi3.NewInt64Schema() },
	notificationType: func() *openapi3.Schema {
		s := openapi3.NewObjectSchema()
		s.Description = "One inbox item. Its data members (strings and integers, e.g. transferId, amount, from, to, " +
			"fromName, displayName, transferExpiresAt, roomId, token) sit beside id, type and at, and depend on the type."
		s.Properties = openapi3.Schemas{
			"id":   described(openapi3.NewStringSchema(), "the notification's id (time-ordered); consumers of the event stream dedupe by it").NewRef(),
			"type": described(openapi3.NewStringSchema(), "what happened, e.g. transfer_pending_received, transfer_accepted, transfer_reminder, sprinkle_reclaimed").NewRef(),
			"at":   openapi3.NewDateTimeSchema().NewRef(),
		}
		s.Required = []string{"at", "id", "type"}
		s.AdditionalProperties = openapi3.AdditionalProperties{Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{
			AnyOf: openapi3.SchemaRefs{openapi3.NewStringSchema().NewRef(), openapi3.NewInt64Schema().NewRef()}}}}
		return s
	},
}

// componentDoc describes components of types that carry no doc tags (the
// kernel's).
var componentDoc = map[string]string{
	"Account": "An account: balance is what it holds, held what pending holds reserve, available = balance - held. Whole won.",
	"Entry":   "One side of a movement in an account's history: amount is signed (+ in, - out), whole won.",
}

type schemaGen struct {
	strict     bool
	components openapi3.Schemas
	names      map[reflect.Type]string
	dirs       map[reflect.Type]direction
	done       map[reflect.Type]bool
	// nullables are the wrappers of nullable component references
	// (nullable, inlineNullables).
	nullables []*openapi3.Schema
}

func newSchemaGen(strict bool) *schemaGen {
	return &schemaGen{strict: strict, components: openapi3.Schemas{}, names: map[reflect.Type]string{},
		dirs: map[reflect.Type]direction{}, done: map[reflect.Type]bool{}}
}

var genericName = regexp.MustCompile(`^(Create|Get|List|Update|Delete)?(Request|Response)$`)

// resourceNames renames response components after the resource they
// describe, as payment APIs name them (Transfer, Withdrawal, Refund).
// Client generators derive <operationId>Response, <operationId>Params and
// the like from operation ids; a component named <Verb>Response collides
// with those (oapi-codegen's client then does not compile), so no
// component name may end in Response (TestComponentNames), and the
// generated clients are compiled by TestGeneratedGoClientCompiles.
var resourceNames = map[string]string{
	"AccountResponse":        "AccountDetail",
	"ClaimResponse":          "SprinkleClaim",
	"CloseResponse":          "SavingsClosure",
	"DeclineResponse":        "ShareDecline",
	"Details":                "SavingsDetails",
	"Event":                  "OrderEvent",
	"MerchantEvent":          "OrderEvent", // beside webhooks.Event (WebhookEvent)
	"LookupResponse":         "Sprinkle",
	"MovementResponse":       "AccountMovement", // a main or savings account's
	"OpenResponse":           "SavingsAccount",
	"PayResponse":            "SharePayment",
	"PlaceResponse":          "OrderAuthorization",
	"RefundResponse":         "Refund",
	"RegisterResponse":       "Registration",
	"RemindResponse":         "Reminder",
	"ResolveResponse":        "PendingTransferResolution",
	"RevokeResponse":         "TokenRevocation",
	"RevokeAllResponse":      "TokensRevocation",
	"IssuedTokenResponse":    "IssuedToken",
	"RoomResponse":           "RoomDetail",
	"SprinkleCreateResponse": "SprinkleReceipt",
	"StoreResponse":          "StoreDetail",
	"Summary":                "SettlementSummary",
	"SummaryList":            "SettlementSummaryList",
	"TokenResponse":          "Token",
	"TransferResponse":       "Transfer",
	"WithdrawResponse":       "StoreWithdrawal",
}

// nameComponents assigns every named struct type reachable from roots its
// component name, so names that collide are decided before any is used.
func (g *schemaGen) nameComponents(roots []reflect.Type) error {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if seen[t] || t.Kind() != reflect.Struct || t == timeType {
			return
		}
		seen[t] = true
		if _, custom := overrides[t]; custom {
			return
		}
		for i := range t.NumField() {
			walk(t.Field(i).Type)
		}
	}
	for _, t := range roots {
		walk(t)
	}
	byName := map[string][]reflect.Type{}
	for t := range seen {
		if t.Name() != "" {
			byName[t.Name()] = append(byName[t.Name()], t)
		}
	}
	taken := map[string]reflect.Type{}
	for name, ts := range byName {
		for _, t := range ts {
			n := name
			if len(ts) > 1 || genericName.MatchString(name) {
				n = packagePrefix(t) + name
			}
			if r, ok := resourceNames[n]; ok {
				n = r
			}
			if other, dup := taken[n]; dup {
				return fmt.Errorf("openapi: types %v and %v would both be component %s", other, t, n)
			}
			taken[n] = t
			g.names[t] = n
		}
	}
	return nil
}

// packagePrefix is the package's name in the singular, capitalized:
// transfers -> Transfer.
func packagePrefix(t reflect.Type) string {
	p := t.PkgPath()
	p = p[strings.LastIndex(p, "/")+1:]
	p = strings.TrimSuffix(p, "s")
	if p == "" {
		return ""
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// ref is the schema of t as used in d: a $ref to its component for named
// structs, inline otherwise.
func (g *schemaGen) ref(t reflect.Type, d direction) (*openapi3.SchemaRef, error) {
	if f, ok := overrides[t]; ok {
		return g.overrideRef(t, f), nil
	}
	if f, ok := reflect.New(t).Interface().(httpapi.Field); ok && t.Kind() != reflect.Pointer {
		return fieldSchema(f.FieldSchema()).NewRef(), nil
	}
	if t.Kind() == reflect.Pointer {
		inner, err := g.ref(t.Elem(), d)
		if err != nil {
			return nil, err
		}
		return g.nullable(inner), nil
	}
	if err := g.checkCustomJSON(t, d); err != nil {
		return nil, err
	}
	if s := scalarSchema(t.Kind()); s != nil {
		return s.NewRef(), nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return g.arrayRef(t, d)
	case reflect.Map:
		return g.mapRef(t, d)
	case reflect.Struct:
		return g.structRef(t, d)
	}
	return nil, fmt.Errorf("openapi: %v (%s) has no JSON schema", t, t.Kind())
}

// overrideRef is t's schema from its override f: inline, or a $ref to
// its component if t is named.
func (g *schemaGen) overrideRef(t reflect.Type, f func() *openapi3.Schema) *openapi3.SchemaRef {
	name, named := g.names[t]
	if !named {
		return f().NewRef()
	}
	if !g.done[t] {
		g.done[t] = true
		g.components[name] = f().NewRef()
	}
	return openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
}

// scalarSchema is the schema of a value of kind k that holds no other
// value; nil for the other kinds.
func scalarSchema(k reflect.Kind) *openapi3.Schema {
	switch k {
	case reflect.Bool:
		return openapi3.NewBoolSchema()
	case reflect.Int, reflect.Int64:
		return openapi3.NewInt64Schema()
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return openapi3.NewInt32Schema()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return openapi3.NewIntegerSchema().WithMin(0)
	case reflect.Float32, reflect.Float64:
		return openapi3.NewFloat64Schema()
	case reflect.String:
		return openapi3.NewStringSchema()
	case reflect.Interface:
		return openapi3.NewSchema() // any JSON value
	}
	return nil
}

// arrayRef is the schema of slice or array type t: bytes (base64) for
// bytes, else an array of its elements.
func (g *schemaGen) arrayRef(t reflect.Type, d direction) (*openapi3.SchemaRef, error) {
	if t.Elem().Kind() == reflect.Uint8 {
		return openapi3.NewBytesSchema().NewRef(), nil
	}
	items, err := g.ref(t.Elem(), d)
	if err != nil {
		return nil, err
	}
	s := openapi3.NewArraySchema()
	s.Items = items
	return s.NewRef(), nil
}

// mapRef is the schema of map type t: an object whose members are its
// values.
func (g *schemaGen) mapRef(t reflect.Type, d direction) (*openapi3.SchemaRef, error) {
	if t.Key().Kind() != reflect.String {
		return nil, fmt.Errorf("openapi: %v: map keys must be strings", t)
	}
	v, err := g.ref(t.Elem(), d)
	if err != nil {
		return nil, err
	}
	s := openapi3.NewObjectSchema()
	s.AdditionalProperties = openapi3.AdditionalProperties{Schema: v}
	return s.NewRef(), nil
}

// structRef is the schema of struct type t: inline if t is not named, else
// a $ref to its component (built on first use). A named struct serves one
// direction only.
func (g *schemaGen) structRef(t reflect.Type, d direction) (*openapi3.SchemaRef, error) {
	name, named := g.names[t]
	if !named {
		s, err := g.object(t, d)
		if err != nil {
			return nil, err
		}
		return s.NewRef(), nil
	}
	if prev, ok := g.dirs[t]; ok && prev != d {
		return nil, fmt.Errorf("openapi: %v is used in a request and in a response; give the request its own type", t)
	}
	g.dirs[t] = d
	if !g.done[t] {
		g.done[t] = true
		s, err := g.object(t, d)
		if err != nil {
			return nil, err
		}
		if doc, ok := componentDoc[name]; ok && s.Description == "" {
			s.Description = doc
		}
		g.components[name] = s.NewRef()
	}
	return openapi3.NewSchemaRef("#/components/schemas/"+name, nil), nil
}

// fieldSchema is a self-checking request member's schema, from the bounds
// it declares (httpapi.Field): the same numbers its check uses.
func fieldSchema(f httpapi.FieldSchema) *openapi3.Schema {
	if f.Integer {
		return openapi3.NewInt64Schema().WithMin(float64(f.Min)).WithMax(float64(f.Max))
	}
	s := openapi3.NewStringSchema()
	if f.MaxLength > 0 {
		s.WithMaxLength(int64(f.MaxLength))
	}
	return s
}

// checkCustomJSON refuses a type whose JSON is its own code's, unless an
// override says what it is.
func (g *schemaGen) checkCustomJSON(t reflect.Type, d direction) error {
	ifaces := []reflect.Type{marshalerType, textMarshaler}
	if d == inRequest {
		ifaces = []reflect.Type{unmarshalerType, textUnmarshaler}
	}
	for _, it := range ifaces {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return fmt.Errorf("openapi: %v implements %v: add its schema to the overrides in shared/wiring/openapi/schema.go", t, it)
		}
	}
	return nil
}

func (g *schemaGen) nullable(r *openapi3.SchemaRef) *openapi3.SchemaRef {
	if r.Ref != "" {
		// In 3.0 a $ref's siblings are ignored, and a one-schema allOf
		// with nullable (the usual wrapper) has no type beside nullable:
		// linters refuse both. inlineNullables later makes the wrapper a
		// nullable copy of the component (the component may not be built
		// yet).
		s := openapi3.NewSchema()
		s.AllOf = openapi3.SchemaRefs{r}
		s.Nullable = true
		g.nullables = append(g.nullables, s)
		return s.NewRef()
	}
	r.Value.Nullable = true
	return r
}

// inlineNullables replaces each nullable wrapper of a component by a
// nullable copy of the component's schema, once every component is built.
func (g *schemaGen) inlineNullables() error {
	for _, s := range g.nullables {
		name := strings.TrimPrefix(s.AllOf[0].Ref, "#/components/schemas/")
		c := g.components[name]
		if c == nil || c.Value == nil {
			return fmt.Errorf("openapi: nullable reference to unknown component %s", name)
		}
		*s = *c.Value
		s.Nullable = true
	}
	g.nullables = nil
	return nil
}

// field is one JSON member of a struct.
type field struct {
	name      string
	sf        reflect.StructField
	depth     int
	tagged    bool
	omitEmpty bool
}

// fields are t's JSON members, as encoding/json sees them.
func fields(t reflect.Type) ([]field, error) {
	var all []field
	var walk func(t reflect.Type, depth int, visited map[reflect.Type]bool) error
	walk = func(t reflect.Type, depth int, visited map[reflect.Type]bool) error {
		if visited[t] {
			return nil
		}
		visited[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !sf.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					if ft.Kind() == reflect.Pointer {
						return fmt.Errorf("openapi: %v embeds *%v: embed the struct itself", t, et)
					}
					if err := walk(et, depth+1, visited); err != nil {
						return err
					}
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			f := field{name: name, sf: sf, depth: depth, tagged: name != ""}
			if f.name == "" {
				f.name = sf.Name
			}
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					f.omitEmpty = true
				case "string":
					return fmt.Errorf("openapi: %v.%s: the json \"string\" option is not supported", t, sf.Name)
				}
			}
			all = append(all, f)
		}
		return nil
	}
	if err := walk(t, 0, map[reflect.Type]bool{}); err != nil {
		return nil, err
	}
	// Dominance: the shallowest field of a name wins; a tie is ambiguous.
	byName := map[string][]field{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	out := make([]field, 0, len(order))
	for _, n := range order {
		fs := byName[n]
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].depth < fs[j].depth })
		if len(fs) > 1 && fs[0].depth == fs[1].depth {
			return nil, fmt.Errorf("openapi: %v: the JSON member %q is ambiguous", t, n)
		}
		out = append(out, fs[0])
	}
	return out, nil
}

// object is the schema of a struct's members.
func (g *schemaGen) object(t reflect.Type, d direction) (*openapi3.Schema, error) {
	fs, err := fields(t)
	if err != nil {
		return nil, err
	}
	s := openapi3.NewObjectSchema()
	for _, f := range fs {
		ref, err := g.ref(f.sf.Type, d)
		if err != nil {
			return nil, fmt.Errorf("%v.%s: %w", t, f.sf.Name, err)
		}
		isPtr := f.sf.Type.Kind() == reflect.Pointer
		required := !f.omitEmpty
		if d == inRequest {
			required = false
		}
		if isPtr && d == inResponse && f.omitEmpty && ref.Ref == "" {
			ref.Value.Nullable = false // nil is left out, never sent as null
		}
		tagRequired, err := applyTags(ref, f.sf.Tag, fmt.Sprintf("%v.%s", t, f.sf.Name))
		if err != nil {
			return nil, err
		}
		if d == inRequest && tagRequired {
			required = true
			if isField(f.sf.Type) && ref.Value.Type.Is(openapi3.TypeString) {
				ref.Value.MinLength = 1 // a required text is not empty
			}
			if isPtr && ref.Ref == "" {
				ref.Value.Nullable = false // null is as missing: refused
			}
		}
		s.Properties[f.name] = ref
		if required {
			s.Required = append(s.Required, f.name)
		}
	}
	sort.Strings(s.Required)
	if d == inRequest || g.strict {
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	return s, nil
}

func isField(t reflect.Type) bool {
	_, ok := reflect.New(t).Interface().(httpapi.Field)
	return ok && t.Kind() != reflect.Pointer
}

// applyTags applies a field's doc and openapi tags to its schema and says
// whether the field is required.
func applyTags(ref *openapi3.SchemaRef, tag reflect.StructTag, where string) (bool, error) {
	doc, hasDoc := tag.Lookup("doc")
	spec, hasSpec := tag.Lookup("openapi")
	if !hasDoc && !hasSpec {
		return false, nil
	}
	s := ref.Value
	if ref.Ref != "" || s == nil {
		if hasSpec && spec != "required" || hasDoc {
			return false, fmt.Errorf("openapi: %s: doc and openapi constraints need an inline schema (this field is a $ref)", where)
		}
		return spec == "required", nil
	}
	if hasDoc {
		s.Description = doc
	}
	required := false
	for _, item := range strings.Split(spec, ",") {
		if item == "" {
			continue
		}
		key, val, _ := strings.Cut(item, "=")
		bad := func(err error) (bool, error) {
			return false, fmt.Errorf("openapi: %s: tag %q: %v", where, item, err)
		}
		switch key {
		case "required":
			required = true
		case "minimum", "maximum":
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return bad(err)
			}
			if key == "minimum" {
				s.Min = &n
			} else {
				s.Max = &n
			}
		case "minLength", "maxLength":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return bad(err)
			}
			if key == "minLength" {
				s.MinLength = n
			} else {
				s.MaxLength = &n
			}
		case "enum":
			for _, v := range strings.Split(val, "|") {
				s.Enum = append(s.Enum, v)
			}
		case "default":
			if s.Type.Is(openapi3.TypeInteger) {
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil {
					return bad(err)
				}
				s.Default = n
			} else {
				s.Default = val
			}
		default:
			return bad(fmt.Errorf("unknown key"))
		}
	}
	return required, nil
}

// camel is a function name as an operationId: create-user -> createUser.
func camel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '-' || r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func described(s *openapi3.Schema, d string) *openapi3.Schema {
	s.Description = d
	return s
}
