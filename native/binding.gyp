{
  "targets": [
    {
      "target_name": "affect_native",
      "sources": ["src/affect_native.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions"],
      "libraries": ["-lopenblas"]
    }
  ]
}
