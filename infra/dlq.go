package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
)

// deadLetterRetention is how long a failed job's event waits in its queue:
// SQS's maximum, so a failure over a long weekend is still there to inspect.
const deadLetterRetention = 14 // days

// newDeadLetterQueues creates one dead-letter queue per schedule, by schedule
// name. A job's events land there when Scheduler cannot deliver them (after
// its retry policy) and when the function keeps failing (after Lambda's
// asynchronous retries), so one queue holds everything a job did not do.
// The queue's depth alarm (alarms.go) says so.
//
// Encrypted at rest with SQS-managed keys: the schedule role and the function
// can send without KMS permissions, and the events (a job name and a time)
// carry no customer data. TLS is enforced by the queue policy.
func newDeadLetterQueues(stack awscdk.Stack, ss []routes.Schedule) map[string]awssqs.Queue {
	out := make(map[string]awssqs.Queue, len(ss))
	for _, sc := range ss {
		out[sc.Name] = awssqs.NewQueue(stack, jsii.String("DeadLetters-"+sc.Name), &awssqs.QueueProps{
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RetentionPeriod: awscdk.Duration_Days(jsii.Number(deadLetterRetention)),
		})
	}
	return out
}

// deadLettersByFunction maps each schedule's function to its schedule's
// queue (validate makes a job's function serve that job only).
func deadLettersByFunction(ss []routes.Schedule, queues map[string]awssqs.Queue) map[string]awssqs.IQueue {
	out := make(map[string]awssqs.IQueue, len(ss))
	for _, sc := range ss {
		out[sc.Function] = queues[sc.Name]
	}
	return out
}
