"""The trading half of the loop: benchmark, signals, regime, sizing, HRP overlay, paper broker, checks, risk.

Modules here are small numeric kernels and store helpers; the loop stages that call
them live in `engine.stages.{broker_fill,signals,portfolio,risk}`.
"""
