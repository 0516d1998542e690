"""The course's own tools: the concept list, quizzes and checked exercises."""

from .concepts import CONCEPTS, Concept, concepts_of, tag
from .exercise import CheckResult, Exercise
from .quiz import Feedback, Question, Quiz

__all__ = ["CONCEPTS", "CheckResult", "Concept", "Exercise", "Feedback", "Question", "Quiz", "concepts_of", "tag"]
