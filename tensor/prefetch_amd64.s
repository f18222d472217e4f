//go:build amd64 && !purego

#include "textflag.h"

// func prefetchRows(p *float32, rows, ld, n int)
// PREFETCHT1 (into L2) the cache lines of rows rows of n floats, ld
// floats apart, from p: a hint, which never faults.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ ld+16(FP), BX
	MOVQ n+24(FP), DX
	SHLQ $2, BX
	SHLQ $2, DX
	TESTQ CX, CX
	JLE  done
	TESTQ DX, DX
	JLE  done

row:
	XORQ AX, AX

line:
	PREFETCHT1 (SI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, DX
	JLT  line
	PREFETCHT1 -4(SI)(DX*1) // the row's last line, when it starts past a line's first float
	ADDQ BX, SI
	DECQ CX
	JNZ  row

done:
	RET
