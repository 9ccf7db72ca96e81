package bolt

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/parley-news/parley/internal/projections"
)

// TestRecordsFill checks the fill the events bucket is committed with: an
// append's while every new id of the transaction sorts after the last,
// bbolt's default from the first that does not, whatever comes after it.
// Rewriting a stored record is neither.
func TestRecordsFill(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "readmodel.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cases := []struct {
		puts string // ids put, in this order, one transaction
		want float64
	}{
		{"c e", appendFill},
		{"f c g", appendFill}, // c is stored: a rewrite
		{"h a i", bbolt.DefaultFillPercent},
		{"b", bbolt.DefaultFillPercent},
		{"j k", appendFill},
	}
	for _, c := range cases {
		var got float64
		err := st.Update(context.Background(), func(tx projections.Tx) error {
			for _, id := range strings.Fields(c.puts) {
				// Asked for each time, as the projection does.
				if err := tx.Bucket(projections.BucketEvents).Put([]byte(id), []byte("record")); err != nil {
					return err
				}
			}
			got = tx.(*boltTx).tx.Bucket([]byte(projections.BucketEvents)).FillPercent
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("puts %q: fill %.2f, want %.2f", c.puts, got, c.want)
		}
	}
}
