package hub

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
)

// clientFrame encodes a masked client frame header for size bytes of
// payload, followed by the payload.
func clientFrame(fin bool, op byte, size int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var b []byte
	switch {
	case size < 126:
		b = []byte{b0, 0x80 | byte(size)}
	case size < 1<<16:
		b = []byte{b0, 0x80 | 126, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(size))
	default:
		b = make([]byte, 10)
		b[0], b[1] = b0, 0x80|127
		binary.BigEndian.PutUint64(b[2:], uint64(size))
	}
	b = append(b, 1, 2, 3, 4) // mask key
	return append(b, make([]byte, size)...)
}

// The watch follows frames however the reads split them, and refuses
// exactly when a message (its data frames summed, control frames apart)
// goes over the limit, as the WebSocket's read limit does.
func TestSizeWatch(t *testing.T) {
	const limit = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var stream []byte
		over := false
		var message int
		for range 1 + rng.IntN(8) {
			switch k := rng.IntN(4); {
			case k == 0: // ping or pong between fragments
				stream = append(stream, clientFrame(true, 9+byte(rng.IntN(2)), rng.IntN(100))...)
			case k == 1 && message > 0: // a continuation
				size := rng.IntN(400)
				message += size
				stream = append(stream, clientFrame(rng.IntN(2) == 0, 0, size)...)
			default: // a new message
				size := rng.IntN(1100)
				if rng.IntN(20) == 0 {
					size = 70_000 // a 64-bit length
				}
				message = size
				stream = append(stream, clientFrame(rng.IntN(2) == 0, 1+byte(rng.IntN(2)), size)...)
			}
			if message > limit {
				over = true
				break
			}
		}
		reg := prometheus.NewRegistry()
		m, err := newMetrics(reg, "test")
		if err != nil {
			t.Fatal(err)
		}
		w := &sizeWatch{hub: &Hub{log: zap.NewNop(), metrics: m}, limit: limit}
		for p := stream; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(300))
			w.scan(p[:k])
			p = p[k:]
		}
		got := testutil.ToFloat64(m.refusals.WithLabelValues("message_size"))
		if (got == 1) != over || got > 1 {
			t.Fatalf("round %d: %v refusals for a stream that goes over the limit: %v", round, got, over)
		}
	}
}

var _ net.Conn = (*sizeWatch)(nil)
