package capacity

import (
	"context"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is a DynamoDB item.
type Item = map[string]types.AttributeValue

// Index is one global secondary index as DescribeTable reports it.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
	// Projection: types.ProjectionTypeAll, KeysOnly or Include (with NonKey).
	Projection types.ProjectionType
	NonKey     []string
}

// Schema is a table's keys and its global secondary indexes.
type Schema struct {
	PartitionKey, SortKey string
	Indexes               []Index
}

// Describer is the part of a client that describes a table.
type Describer interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// DescribeSchema reads a table's schema (so the model follows whatever the
// table really has: index keys and projections).
func DescribeSchema(ctx context.Context, db Describer, table string) (Schema, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return Schema{}, err
	}
	return schemaOf(out.Table), nil
}

func schemaOf(t *types.TableDescription) Schema {
	var s Schema
	s.PartitionKey, s.SortKey = keysOf(t.KeySchema)
	for _, g := range t.GlobalSecondaryIndexes {
		ix := Index{Name: aws.ToString(g.IndexName)}
		ix.PartitionKey, ix.SortKey = keysOf(g.KeySchema)
		if g.Projection != nil {
			ix.Projection, ix.NonKey = g.Projection.ProjectionType, g.Projection.NonKeyAttributes
		}
		if ix.Projection == "" {
			ix.Projection = types.ProjectionTypeAll
		}
		s.Indexes = append(s.Indexes, ix)
	}
	return s
}

func keysOf(ks []types.KeySchemaElement) (pk, sk string) {
	for _, k := range ks {
		if k.KeyType == types.KeyTypeHash {
			pk = aws.ToString(k.AttributeName)
		} else {
			sk = aws.ToString(k.AttributeName)
		}
	}
	return pk, sk
}

// Index returns the named index.
func (s Schema) Index(name string) (Index, bool) {
	for _, ix := range s.Indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return Index{}, false
}

// in reports whether an item appears in the index (it carries the index's
// key attributes: a sparse index holds only those items).
func (ix Index) in(item Item) bool {
	if item == nil {
		return false
	}
	if _, ok := item[ix.PartitionKey]; !ok {
		return false
	}
	if ix.SortKey != "" {
		if _, ok := item[ix.SortKey]; !ok {
			return false
		}
	}
	return true
}

// Project is the index's entry for an item: the table's and the index's
// keys plus the projected attributes.
func (s Schema) Project(ix Index, item Item) Item {
	if ix.Projection == types.ProjectionTypeAll || item == nil {
		return item
	}
	keep := []string{s.PartitionKey, s.SortKey, ix.PartitionKey, ix.SortKey}
	if ix.Projection == types.ProjectionTypeInclude {
		keep = append(keep, ix.NonKey...)
	}
	out := Item{}
	for _, k := range keep {
		if v, ok := item[k]; ok && k != "" {
			out[k] = v
		}
	}
	return out
}

// IndexWrite is one write to an index partition that a table write causes.
type IndexWrite struct {
	Index     string
	Partition string // the index partition key's value
	Units     float64
	Bytes     int
	Delete    bool // the entry leaves this partition (else it is put there)
}

// IndexWrites lists the index writes a change of one item from before to
// after causes (nil before: a new item; nil after: a deleted one):
//   - none when the item is in neither version of the index, or no
//     projected attribute changed;
//   - one (a put) when the item enters the index, one (a delete) when it
//     leaves, one when a projected non-key attribute changed;
//   - two (a delete and a put) when the index key changed.
//
// Each is charged by the size of the index entry written (the deleted
// entry's for a delete), one unit per started KB: index maintenance is not
// transactional even when the table write was.
func (s Schema) IndexWrites(before, after Item) []IndexWrite {
	var out []IndexWrite
	for _, ix := range s.Indexes {
		inB, inA := ix.in(before), ix.in(after)
		pb, pa := s.Project(ix, before), s.Project(ix, after)
		del := func() {
			n := ItemSize(pb)
			out = append(out, IndexWrite{ix.Name, str(before[ix.PartitionKey]), WriteUnits(n, false), n, true})
		}
		put := func() {
			n := ItemSize(pa)
			out = append(out, IndexWrite{ix.Name, str(after[ix.PartitionKey]), WriteUnits(n, false), n, false})
		}
		switch {
		case !inB && !inA:
		case !inB:
			put()
		case !inA:
			del()
		case !reflect.DeepEqual(before[ix.PartitionKey], after[ix.PartitionKey]) ||
			ix.SortKey != "" && !reflect.DeepEqual(before[ix.SortKey], after[ix.SortKey]):
			del()
			put()
		case !equalItems(pb, pa):
			put()
		}
	}
	return out
}

func equalItems(a, b Item) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(a[k], b[k]) {
			return false
		}
	}
	return true
}

// str is a string attribute's value ("" for anything else).
func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
