"""The one exception type the command line turns into a one-line message and exit status 2."""


class UserError(Exception):
    """Bad input from the user: a file, a key or a value. The message names it."""


class DataError(UserError):
    """A dataset file that cannot be used. `path` names the file, `problem` says why."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
