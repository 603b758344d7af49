"""The pieces of `benchmarks/capacity.py`: a stand-in `vllm serve`, a load client, the proxies
under test as child processes, the analysis of what the client saw, and the report."""
