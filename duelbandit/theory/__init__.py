"""The bound study: the paper's upper and lower bounds as functions (:mod:`~duelbandit.theory.bounds`),
the hard instance of the lower bound (:mod:`~duelbandit.theory.instances`), regret-rate experiments
(:mod:`~duelbandit.theory.experiment`), and the verification with its report
(:mod:`~duelbandit.theory.verify`, :mod:`~duelbandit.theory.report`).

It sits downstream of the flow (it runs selectors, annotators and fits); nothing in the flow imports it.
"""
