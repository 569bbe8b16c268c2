// Writes the replay's sample pcap: make_sample_pcap scenarios/replay.pcap

#include <cstdio>
#include <exception>

#include "pcap_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_sample_pcap FILE\n");
    return 2;
  }
  try {
    pollscope::test_support::write_sample_pcap(argv[1]);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "make_sample_pcap: %s\n", error.what());
    return 1;
  }
  return 0;
}
