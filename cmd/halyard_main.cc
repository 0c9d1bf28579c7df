#include "cli/cli.h"

int main(int argc, char** argv) { return halyard::cli::run(argc, argv); }
