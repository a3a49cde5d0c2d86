package ddb

import "testing"

// HashShard is the one hash every sharded key uses (stores, inboxes,
// postings, the outside accounts, due kinds): a change of it would move
// existing items to other shards, so its values are pinned.
func TestHashShardIsStable(t *testing.T) {
	for _, c := range []struct {
		id   string
		n    int
		want int
	}{
		{"anything", 0, 0}, {"anything", 1, 0},
		{"u_0123456789abcdef", 32, 21}, {"o_1", 16, 6},
	} {
		if got := HashShard(c.id, c.n); got != c.want {
			t.Errorf("HashShard(%q, %d) = %d, want %d", c.id, c.n, got, c.want)
		}
	}
}
