import CKernels

/// Our own kernels (`CKernels`: the direct convolution, products with few rows), which run on a
/// CPU with AVX-512F or with AVX2 and FMA; elsewhere the layers keep im2col and sgemm.
public enum Kernels {
    /// Whether this CPU runs them; asked once.
    public static let run = oni_kernels_available() != 0
    /// The instructions they use here ("AVX-512", "AVX2", or "none").
    public static let instructions = ["none", "AVX2", "AVX-512"][Int(oni_kernels_available())]
}
