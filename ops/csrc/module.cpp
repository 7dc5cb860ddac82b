// The Python module `bevfusion.ops._C`. Ops register themselves with the torch
// dispatcher (TORCH_LIBRARY_FRAGMENT in each op folder); importing this module loads
// them, and Python reaches them through torch.ops.bevfusion.*.
#include <Python.h>

static struct PyModuleDef bevfusion_ops_module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};

PyMODINIT_FUNC PyInit__C(void) { return PyModule_Create(&bevfusion_ops_module); }
