package tensor

import "testing"

func BenchmarkZZSoftmax50x50(b *testing.B) {
	x, _, _ := benchInputs(50 * 50)
	z := make([]float32, 50*50)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(z, x)
		for r := 0; r < 50; r++ {
			SoftmaxRow(z[r*50 : r*50+50])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50, "ns/row")
}
