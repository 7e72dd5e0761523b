"""The digital twin bench: a real HAProxy in front of real backends on 127.0.0.1, driven by a
meshsim scenario file, and the comparison with meshsim's prediction. See twin/README.md."""
