package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// floorPerTx is the puts per transaction of the floor copy: the fastest
// of 500 to 1,000,000 on a 1M-event model on this machine (larger
// transactions hold more dirty pages and were slower).
const floorPerTx = 2000

// layoutFloor copies every entry of the read model at src into a fresh
// bbolt file at dst, bucket by bucket in key order, pages filled to 100%,
// floorPerTx puts per transaction and one fsync at the end: what bbolt
// alone takes to write what a rebuild of that model writes, with no
// projection work and in the order bbolt writes fastest. A rebuild into
// this layout cannot beat it; it returns the time taken and the entries.
func layoutFloor(ctx context.Context, src, dst string) (time.Duration, int, error) {
	from, err := bbolt.Open(src, 0o400, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", src, err)
	}
	defer from.Close()
	os.Remove(dst)
	to, err := bbolt.Open(dst, 0o600, &bbolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", dst, err)
	}
	defer os.Remove(dst)
	defer to.Close()
	// The source's pages are read once before the clock starts, so that
	// the figure is the writing alone.
	err = from.View(func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(discard{})
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", src, err)
	}
	start := time.Now()
	n := 0
	err = from.View(func(stx *bbolt.Tx) error {
		return stx.ForEach(func(name []byte, sb *bbolt.Bucket) error {
			c := sb.Cursor()
			k, v := c.First()
			for first := true; first || k != nil; first = false {
				if err := ctx.Err(); err != nil {
					return err
				}
				err := to.Update(func(tx *bbolt.Tx) error {
					b, err := tx.CreateBucketIfNotExists(name)
					if err != nil {
						return err
					}
					b.FillPercent = 1
					for i := 0; i < floorPerTx && k != nil; i++ {
						if err := b.Put(k, v); err != nil {
							return err
						}
						n++
						k, v = c.Next()
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("copy %s: %w", name, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, err
	}
	if err := to.Sync(); err != nil {
		return 0, 0, fmt.Errorf("sync %s: %w", dst, err)
	}
	return time.Since(start), n, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
