// The `halyard` command line: one function per subcommand, registered on a CLI11 app.
#pragma once

namespace halyard::cli {

// Runs `halyard` with argv; returns the process exit code.
int run(int argc, char** argv);

}  // namespace halyard::cli
