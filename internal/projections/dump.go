package projections

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
)

// Dump writes every bucket of the read model in key order, one line per
// entry, as "bucket key value" in hex. Two read models with the same dump
// answer every query the same: it is how a rebuild is compared with an
// incrementally built model.
func Dump(tx Tx, w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, name := range Buckets {
		c := tx.Bucket(name).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if _, err := fmt.Fprintf(bw, "%s %s %s\n", name, hex.EncodeToString(k), hex.EncodeToString(v)); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
