enum BatchJobsPlaceholder {}
