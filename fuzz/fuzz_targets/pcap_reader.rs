#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| plugsniff::fuzz_targets::pcap_reader(data));
