//! Yes/no questions to the operator (protected clusters, destroys): one at a time, even from
//! parallel steps.

use std::io::{BufRead, BufReader, IsTerminal as _, Read, Write};
use std::sync::Mutex;

/// Asks yes/no questions: writes the question, reads one line of answer. Only `y` or `yes`
/// (any case) is a yes; anything else, an empty line or the end of input is a no.
pub struct Prompt {
    answers: Mutex<Box<dyn BufRead + Send>>,
    questions: Mutex<Box<dyn Write + Send>>,
}

impl Prompt {
    pub fn new(
        answers: impl Read + Send + 'static,
        questions: impl Write + Send + 'static,
    ) -> Prompt {
        Prompt {
            answers: Mutex::new(Box::new(BufReader::new(answers))),
            questions: Mutex::new(Box::new(questions)),
        }
    }

    /// Stdin and stderr, when stdin is a terminal.
    pub fn terminal() -> Option<Prompt> {
        std::io::stdin()
            .is_terminal()
            .then(|| Prompt::new(std::io::stdin(), std::io::stderr()))
    }

    /// One question at a time, even from parallel steps.
    pub fn ask(&self, question: &str) -> bool {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut q = self.questions.lock().unwrap_or_else(|e| e.into_inner());
            let _ = write!(q, "{question} [y/N] ");
            let _ = q.flush();
        }
        let mut answer = String::new();
        if answers.read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }
}
