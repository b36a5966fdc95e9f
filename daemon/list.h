/* Intrusive doubly-linked list (circular, with a head node). */
#ifndef SOCKGATE_LIST_H
#define SOCKGATE_LIST_H

#include <stddef.h>

struct list {
	struct list *prev, *next;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void list_init(struct list *head)
{
	head->prev = head->next = head;
}

static inline int list_empty(const struct list *head)
{
	return head->next == head;
}

/* Whether a node initialised with list_init is currently linked somewhere. */
static inline int list_linked(const struct list *node)
{
	return node->next != node;
}

static inline void list_add_tail(struct list *head, struct list *node)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static inline void list_del(struct list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	list_init(node);
}

#endif
