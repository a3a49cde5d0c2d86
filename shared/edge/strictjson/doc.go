// Package strictjson decodes request bodies so that every reader of the
// bytes (a log, a gateway filter, this service) sees the same values.
//
// Decode(data, v) refuses, with an *Error (Kind, JSON Pointer Path, byte
// Offset, and a sentence such as `field "amount" appears twice`):
//
//   - an empty or whitespace-only body, more than one JSON value, data
//     after it, or anything but an object when v points to a struct;
//   - a byte order mark, invalid UTF-8 anywhere, and \u escapes that are
//     lone or mismatched UTF-16 surrogates ("\ud800"), which encoding/json
//     would silently turn into U+FFFD;
//   - a key twice in any object at any depth, compared after unescaping
//     ("a" and "\u0061" are the same key), including objects bound for
//     map[string]any, any or a custom UnmarshalJSON; for maps with integer
//     keys "1" and "01" are the same key;
//   - in an object decoded into a struct, any key that is not exactly
//     (case-sensitively) the JSON name of one of its fields, as
//     encoding/json names them: tags, "-", untagged names, fields promoted
//     from embedded structs;
//   - JSON syntax errors, and nesting deeper than MaxDepth.
//
// A body that passes is then decoded by encoding/json with UseNumber and
// DisallowUnknownFields, so values mean what they meant before: numbers
// stay exact as json.Number, custom UnmarshalJSON methods run, null leaves
// a field alone. Its errors come back as *Error with Kind KindValue and
// say what the field takes in JSON words (`field "to" must be a string,
// not a number`); an UnmarshalJSON error is placed on its field and kept
// as Err.
//
// CheckText(s) is for free text (names, memos): it refuses invalid UTF-8,
// control, format (Cf), separator, private-use, noncharacter and filler
// characters, with a *TextError naming the character as U+XXXX and its
// position. U+200D is allowed only inside emoji sequences (between two
// pictographic characters), so "👨‍👩‍👧" passes. CheckName(s) is for names
// (users, stores, accounts, rooms): CheckText's rules, at most three
// combining marks in a row, and no mixed scripts (Unicode TS #39's highly
// restrictive level: one script, or Latin with Han and Hangul, kana or
// Bopomofo; digits, punctuation and emoji go with any).
package strictjson
