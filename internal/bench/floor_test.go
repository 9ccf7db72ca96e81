package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

func TestLayoutFloorCopiesEveryEntry(t *testing.T) {
	src := filepath.Join(t.TempDir(), "model.db")
	db, err := bbolt.Open(src, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	err = db.Update(func(tx *bbolt.Tx) error {
		// One bucket over several floor transactions, one empty, one small.
		for name, n := range map[string]int{"big": 2*floorPerTx + 7, "empty": 0, "small": 3} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for i := range n {
				if err := b.Put(fmt.Appendf(nil, "%08d", i), []byte("v")); err != nil {
					return err
				}
			}
			want += n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	took, got, err := layoutFloor(context.Background(), src, src+".floor")
	if err != nil {
		t.Fatal(err)
	}
	if got != want || took <= 0 {
		t.Fatalf("copied %d entries in %s, want %d", got, took, want)
	}
	if m, _ := filepath.Glob(src + ".floor*"); len(m) != 0 {
		t.Errorf("the copy was left behind: %v", m)
	}
}
