// The main of sr-train, sr-infer and sr-eval: SR_TOOL_ENTRY names the tool's function.
#include "sr_tools.hpp"

int main(int argc, char** argv) { return sr::tools::SR_TOOL_ENTRY(argc, argv); }
