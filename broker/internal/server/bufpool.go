package server

import "sync"

// bufPool recycles the large buffers of the hot paths: produce request
// bodies, fetch read arenas and encoded responses. Without it every fetch
// grows a multi-megabyte response by doubling and every produce allocates
// its body, and the garbage collector spends its time on those. Buffers are
// kept in power-of-two size classes so that a small request never takes
// (and zeroes a replacement for) a large buffer.
type bufPool struct {
	classes [numClasses]sync.Pool
}

const (
	minClassShift = 12 // 4 KiB
	numClasses    = 13 // up to 16 MiB
)

func classFor(n int) int {
	c := 0
	for size := 1 << minClassShift; size < n && c < numClasses; size <<= 1 {
		c++
	}
	return c
}

// get returns a buffer of length 0 and capacity at least n.
func (bp *bufPool) get(n int) *[]byte {
	c := classFor(n)
	if c >= numClasses {
		b := make([]byte, 0, n)
		return &b
	}
	if v := bp.classes[c].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1<<(minClassShift+c))
	return &b
}

// put returns a buffer to the class its capacity fully covers.
func (bp *bufPool) put(b *[]byte) {
	if b == nil || cap(*b) < 1<<minClassShift {
		return
	}
	c := classFor(cap(*b))
	if 1<<(minClassShift+c) > cap(*b) {
		c-- // capacity between classes: file it under the smaller one
	}
	if c >= numClasses {
		return // bigger than any class: leave it to the garbage collector
	}
	bp.classes[c].Put(b)
}
